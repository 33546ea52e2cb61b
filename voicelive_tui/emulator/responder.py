"""What the emulated agent says, and how a response streams.

- To ``response.create`` with no new user turn: a greeting saying it is the local emulator
  (in agent mode on a continued conversation: a welcome back that shows it remembers).
- To a spoken turn: a short sentence, then the user's own audio played back (an echo test).
- To a text message: a reply that quotes it.

A response streams in real time divided by ``speed``: audio in deltas of
:data:`AUDIO_CHUNK_MS`, up to :data:`AUDIO_LEAD_MS` ahead of real time, transcript words
spread over the spoken sentence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from azure.ai.voicelive import models as m

from .faults import Faults
from .speech import resample_pcm16, synthesize
from .state import StoredConversation, StoredItem, new_id, output_rate

__all__ = ["AUDIO_CHUNK_MS", "ActiveResponse", "compose_reply", "speak"]

AUDIO_CHUNK_MS = 150
FIRST_AUDIO_LATENCY_MS = 200
AUDIO_LEAD_MS = 300
"""Audio is sent up to this far ahead of real time, as the service's speech synthesis runs
faster than real time: a client's jitter buffer is not starved by one late loop turn."""
TEXT_WORD_MS = 80
ECHO_GAP_MS = 250
QUOTE_LIMIT = 200

SendFn = Callable[[m.ServerEvent], Awaitable[bool]]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


def _describe(item: StoredItem) -> str:
    if item.kind == "audio":
        return f"{item.audio_ms / 1000:.1f} seconds of speech"
    return f'"{_quote(item.text)}"'


def compose_reply(
    conversation: StoredConversation, agent_name: str | None
) -> tuple[str, StoredItem | None]:
    """Choose what to say next: (sentence, user audio item to play back or None)."""
    turn: StoredItem | None = None
    for item in reversed(conversation.items):
        if item.role == "assistant":
            break
        if item.role == "user":
            turn = item
            break
    earlier = [i for i in conversation.items if i.role == "user" and i is not turn]
    if turn is None:
        if agent_name and earlier:
            return (
                f"Welcome back. I remember {len(earlier)} earlier messages in this conversation;"
                f" the last one was {_describe(earlier[-1])}.",
                None,
            )
        who = f"I am {agent_name}, an agent on" if agent_name else "This is"
        return (
            f"Hello! {who} the local Voice Live emulator. Speak, and I will play your words"
            " back to you, or type a message.",
            None,
        )
    memory = ""
    if agent_name and earlier:
        memory = f" Earlier in this conversation you sent {_describe(earlier[-1])}."
    if turn.kind == "audio":
        return (
            f"I heard {turn.audio_ms / 1000:.1f} seconds of speech."
            f" Here it is played back.{memory}",
            turn,
        )
    return f'You said: "{_quote(turn.text)}".{memory}', None


async def speak(text: str, rate: int, min_ms: int = 0) -> tuple[str, bytes]:
    """The sentence and its PCM16 speech, repeated until it lasts ``min_ms`` or more."""
    speech = await synthesize(text, rate)
    span = max(1, len(speech) * 1000 // (2 * rate))
    repeats = max(1, -(-min_ms // span))
    return " ".join([text] * repeats), speech * repeats


def _usage(conversation: StoredConversation, reply: StoredItem) -> m.TokenUsage:
    text_in = sum(len(i.text.split()) for i in conversation.items if i is not reply)
    audio_in = sum(i.audio_ms // 50 for i in conversation.items if i is not reply)
    text_out, audio_out = len(reply.text.split()), reply.audio_ms // 50
    return m.TokenUsage(
        total_tokens=text_in + audio_in + text_out + audio_out,
        input_tokens=text_in + audio_in,
        output_tokens=text_out + audio_out,
        input_token_details=m.InputTokenDetails(
            cached_tokens=0,
            text_tokens=text_in,
            audio_tokens=audio_in,
            image_tokens=0,
            cached_tokens_details=m.CachedTokenDetails(
                text_tokens=0, audio_tokens=0, image_tokens=0
            ),
        ),
        output_token_details=m.OutputTokenDetails(text_tokens=text_out, audio_tokens=audio_out),
    )


class ActiveResponse:
    """One response being streamed; :meth:`cancel` stops it at the next event boundary."""

    def __init__(
        self,
        *,
        send: SendFn,
        session: dict[str, Any],
        conversation: StoredConversation,
        speed: float,
        faults: Faults,
        conversation_id: str | None,
        agent_name: str | None,
        overrides: dict[str, Any] | None = None,
        on_fault_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self.id = new_id("resp")
        self.status = "in_progress"
        self.cancel_reason: str | None = None
        self._send = send
        self._session = session
        self._conversation = conversation
        self._speed = speed
        self._faults = faults
        self._conversation_id = conversation_id
        self._agent_name = agent_name
        self._overrides = overrides or {}
        self._on_fault_drop = on_fault_drop
        self._cancelled = asyncio.Event()
        self.item = StoredItem(
            id=new_id("item"), role="assistant", kind="audio", status="in_progress"
        )

    def cancel(self, reason: str) -> None:
        """End the stream with status ``cancelled``; ``reason`` as in the service's details."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self._cancelled.set()

    async def _pause_until(self, deadline: float) -> bool:
        """Wait until loop time ``deadline``; True if cancelled meanwhile."""
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0 and not self._cancelled.is_set():
            try:
                await asyncio.wait_for(self._cancelled.wait(), delay)
            except asyncio.TimeoutError:
                pass
        return self._cancelled.is_set()

    def _response(self, status: str, output: list[Any], usage: Any = None) -> m.Response:
        details = None
        if status == "cancelled":
            details = m.ResponseCancelledDetails(reason=self.cancel_reason or "client_cancelled")
        return m.Response(
            id=self.id,
            object="realtime.response",
            status=status,
            status_details=details,
            output=output,
            usage=usage,
            conversation_id=self._conversation_id,
            voice=self._session.get("voice"),
            modalities=self._modalities(),
            output_audio_format=self._session.get("output_audio_format"),
        )

    def _modalities(self) -> list[str]:
        return list(
            self._overrides.get("modalities") or self._session.get("modalities") or ["text"]
        )

    def _message(self, status: str, part: Any | None) -> m.ResponseMessageItem:
        return m.ResponseMessageItem(
            id=self.item.id,
            object="realtime.item",
            role="assistant",
            content=[part] if part is not None else [],
            status=status,
        )

    async def run(self) -> None:
        """Stream the whole response, ending with ``response.done``."""
        try:
            await self._run()
        finally:
            if self.status == "in_progress":
                self.status = "failed"

    async def _run(self) -> None:
        text, echo = compose_reply(self._conversation, self._agent_name)
        audio_mode = "audio" in self._modalities()
        rate = output_rate(self._session)
        speech = b""
        if audio_mode:
            text, speech = await speak(text, rate, 1000 * (self._faults.long_reply_s or 0))
        tail = b""
        if echo is not None and audio_mode:
            gap = bytes(2 * (rate * ECHO_GAP_MS // 1000))
            tail = gap + resample_pcm16(echo.audio, echo.rate, rate)
        item = self.item
        item.kind, item.rate = ("audio" if audio_mode else "text"), rate
        item.transcript_ms = len(speech) * 1000 // (2 * rate)

        if self._faults.unknown_events:
            await self._send(m.ServerEvent({"type": "emulator.unannounced_event", "note": "fault"}))
        self._conversation.items.append(item)
        self._conversation.trim_audio()
        if audio_mode:
            item.audio = bytearray()  # deltas append in place, not by copying it all
        ids: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": 0,
            "content_index": 0,
        }
        if not await self._send(
            m.ServerEventResponseCreated(response=self._response("in_progress", []))
        ):
            return
        await self._send(
            m.ServerEventResponseOutputItemAdded(
                response_id=self.id, output_index=0, item=self._message("in_progress", None)
            )
        )
        empty = (
            m.ResponseAudioContentPart(transcript="")
            if audio_mode
            else m.ResponseTextContentPart(text="")
        )
        await self._send(m.ServerEventResponseContentPartAdded(part=empty, **ids))

        schedule = self._schedule(text, speech + tail, rate, audio_mode)
        start = asyncio.get_running_loop().time() + FIRST_AUDIO_LATENCY_MS / 1000 / self._speed
        first_delta = True
        for at_ms, kind, payload in schedule:
            if await self._pause_until(start + at_ms / 1000 / self._speed):
                break
            if kind == "audio":
                event: m.ServerEvent = m.ServerEventResponseAudioDelta(delta=payload, **ids)
            elif audio_mode:
                event = m.ServerEventResponseAudioTranscriptDelta(delta=payload, **ids)
            else:
                event = m.ServerEventResponseTextDelta(delta=payload, **ids)
            if not await self._send(event):
                return
            if kind == "audio":
                item.audio += payload
            else:
                item.text += payload
            if first_delta and self._faults.drop_mid_response:
                self._on_fault_drop()
                return
            first_delta = False

        item.audio = bytes(item.audio)
        if self._cancelled.is_set():
            await self._finish_cancelled()
        else:
            await self._finish_completed(audio_mode, ids)

    def _schedule(
        self, text: str, audio: bytes, rate: int, audio_mode: bool
    ) -> list[tuple[float, str, Any]]:
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        events: list[tuple[float, str, Any]] = []
        if not audio_mode:
            return [(i * TEXT_WORD_MS, "text", p) for i, p in enumerate(pieces)]
        span = self.item.transcript_ms
        events += [(i * span / len(pieces), "text", p) for i, p in enumerate(pieces)]
        if self._faults.flood_deltas_per_s:
            chunk = max(1, rate // self._faults.flood_deltas_per_s) * 2
        else:
            chunk = rate * AUDIO_CHUNK_MS // 1000 * 2
        events += [
            (max(0.0, pos * 1000 / (2 * rate) - AUDIO_LEAD_MS), "audio", audio[pos : pos + chunk])
            for pos in range(0, len(audio), chunk)
        ]
        # Transcript words go out just before the audio they describe.
        return sorted(events, key=lambda e: (e[0], e[1] != "text"))

    async def _finish_cancelled(self) -> None:
        self.status = "cancelled"
        self.item.status = "incomplete"
        part = self._part()
        await self._send(
            m.ServerEventResponseOutputItemDone(
                response_id=self.id, output_index=0, item=self._message("incomplete", part)
            )
        )
        output = [self._message("incomplete", part)]
        await self._send(m.ServerEventResponseDone(response=self._response("cancelled", output)))

    def _part(self) -> Any:
        if self.item.kind == "audio":
            return m.ResponseAudioContentPart(transcript=self.item.text)
        return m.ResponseTextContentPart(text=self.item.text)

    async def _finish_completed(self, audio_mode: bool, ids: dict[str, Any]) -> None:
        item = self.item
        self.status = "completed"  # from here on a cancel finds no active response
        if audio_mode:
            await self._send(m.ServerEventResponseAudioDone(**ids))
            await self._send(m.ServerEventResponseAudioTranscriptDone(transcript=item.text, **ids))
        else:
            await self._send(m.ServerEventResponseTextDone(text=item.text, **ids))
        await self._send(m.ServerEventResponseContentPartDone(part=self._part(), **ids))
        item.status = "completed"
        await self._send(
            m.ServerEventResponseOutputItemDone(
                response_id=self.id, output_index=0, item=self._message("completed", self._part())
            )
        )
        usage = _usage(self._conversation, item)
        output = [self._message("completed", self._part())]
        await self._send(
            m.ServerEventResponseDone(response=self._response("completed", output, usage))
        )
