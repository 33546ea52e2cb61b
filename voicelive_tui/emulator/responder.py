"""How a response streams (the words the emulated agent says are in ``wording.py``).

- To a greeting, a spoken turn or a text message: see ``wording.py``.
- To a turn that asks for a tool or a search (see ``tools.py``): the calls, streamed by
  ``activity.py``; after the client's tool output (or MCP approval) and its
  ``response.create``: a reply that quotes the output (or refuses).

A response streams in real time divided by ``speed``: audio in deltas of
:data:`AUDIO_CHUNK_MS`, ahead of real time as ``pacing`` says (``schedule.py``: in bursts
as the service sends it, or just ahead of real time), each
transcript word just before the audio it is spoken in, and,
when the session asks for word timestamps, one ``response.audio_timestamp.delta`` per
word, sent no later than the audio chunk in which the word starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from azure.ai.voicelive import models as m

from .activity import (
    TOKEN_LIMIT,
    rate_limits_event,
    stream_search,
    stream_tool_calls,
    tool_reply,
)
from .faults import Faults
from .schedule import Pacing, audio_schedule, text_schedule
from .speech import WordTime, resample_pcm16
from .state import StoredConversation, StoredItem, new_id, output_rate
from .tools import plan_tools, timestamps_wanted
from .wording import compose_reply, speak, token_usage

__all__ = ["AUDIO_CHUNK_MS", "ActiveResponse", "compose_reply", "speak"]

AUDIO_CHUNK_MS = 150
FIRST_AUDIO_LATENCY_MS = 200
ECHO_GAP_MS = 250

SendFn = Callable[[m.ServerEvent], Awaitable[bool]]


class ActiveResponse:
    """One response being streamed; :meth:`cancel` stops it at the next event boundary."""

    def __init__(
        self,
        *,
        send: SendFn,
        session: dict[str, Any],
        conversation: StoredConversation,
        speed: float,
        pacing: Pacing,
        faults: Faults,
        conversation_id: str | None,
        agent_name: str | None,
        overrides: dict[str, Any] | None = None,
        on_fault_drop: Callable[[], None] = lambda: None,
        heard: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.id = new_id("resp")
        self.status = "in_progress"
        self.cancel_reason: str | None = None
        self._send = send
        self._session = session
        self._conversation = conversation
        self.session = session
        self.conversation = conversation
        self.mcp_calls_to_run: list[StoredItem] = []
        """MCP calls that need no approval: they run once this response is done."""
        self._speed = speed
        self._pacing = pacing
        self._faults = faults
        self._conversation_id = conversation_id
        self._agent_name = agent_name
        self._overrides = overrides or {}
        self._on_fault_drop = on_fault_drop
        self._heard = heard
        """Waits for the transcripts of the turns committed so far."""
        self._cancelled = asyncio.Event()
        self.outputs: list[Any] = []
        """Output items finished before the message (tool calls, searches)."""
        self.output_index = 0
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
        if not await self._start():
            return
        if self._heard is not None:
            await self._heard()  # the words of the turn decide what to say or call
        agent_mode = self._conversation_id is not None
        plan = plan_tools(self._conversation, self._session, self._overrides, agent_mode)
        if plan.functions or plan.mcp:
            await stream_tool_calls(self, plan)
            await self._finish_without_message()
            return
        text, echo = tool_reply(self._conversation) or compose_reply(
            self._conversation, self._agent_name
        )
        if plan.search is not None:
            found = await stream_search(self, plan.search)
            if found is None:
                await self._finish_without_message()
                return
            text, echo = found[0], None
            await self._stream_message(text, echo, found[1])
            return
        await self._stream_message(text, echo, None)

    async def _start(self) -> bool:
        """``response.created`` and ``rate_limits.updated``; False once the socket is gone."""
        if self._faults.unknown_events:
            await self._send(m.ServerEvent({"type": "emulator.unannounced_event", "note": "fault"}))
        if not await self._send(
            m.ServerEventResponseCreated(response=self._response("in_progress", []))
        ):
            return False
        token_limit = self._faults.token_limit or TOKEN_LIMIT
        return await self._send(rate_limits_event(self._conversation, token_limit))

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def send(self, event: m.ServerEvent) -> bool:
        """Send one event of this response (for ``activity.py``)."""
        return await self._send(event)

    async def pause(self, ms: float) -> bool:
        """Wait ``ms`` of emulated time; True if cancelled meanwhile."""
        loop = asyncio.get_running_loop()
        return await self._pause_until(loop.time() + ms / 1000 / self._speed)

    async def _stream_message(
        self, text: str, echo: StoredItem | None, annotation: dict[str, Any] | None
    ) -> None:
        audio_mode = "audio" in self._modalities()
        rate = output_rate(self._session)
        speech, words = b"", list[WordTime]()
        if audio_mode:
            text, speech, words = await speak(text, rate, 1000 * (self._faults.long_reply_s or 0))
        tail = b""
        if echo is not None and audio_mode:
            gap = bytes(2 * (rate * ECHO_GAP_MS // 1000))
            tail = gap + resample_pcm16(echo.audio, echo.rate, rate)
        item = self.item
        item.kind, item.rate = ("audio" if audio_mode else "text"), rate
        item.transcript_ms = len(speech) * 1000 // (2 * rate)

        self._conversation.items.append(item)
        self._conversation.trim_audio()
        if audio_mode:
            item.audio = bytearray()  # deltas append in place, not by copying it all
        self.output_index = len(self.outputs)
        ids: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self.output_index,
            "content_index": 0,
        }
        await self._send(
            m.ServerEventResponseOutputItemAdded(
                response_id=self.id,
                output_index=self.output_index,
                item=self._message("in_progress", None),
            )
        )
        empty = (
            m.ResponseAudioContentPart(transcript="")
            if audio_mode
            else m.ResponseTextContentPart(text="")
        )
        await self._send(m.ServerEventResponseContentPartAdded(part=empty, **ids))
        if annotation is not None:
            await self._send(
                m.ServerEventResponseAudioTranscriptAnnotationAdded(
                    annotation_index=0, annotation=annotation, **ids
                )
            )

        timestamps = audio_mode and timestamps_wanted(self._session)
        if self._faults.flood_deltas_per_s:
            chunk = max(1, rate // self._faults.flood_deltas_per_s) * 2
        else:
            chunk = rate * AUDIO_CHUNK_MS // 1000 * 2
        if audio_mode:
            schedule, starts = audio_schedule(
                text,
                speech + tail,
                rate,
                words,
                chunk,
                timestamps,
                item.transcript_ms,
                self._pacing,
            )
            item.token_starts_ms = starts
        else:
            schedule = text_schedule(text)
        start = asyncio.get_running_loop().time() + FIRST_AUDIO_LATENCY_MS / 1000 / self._speed
        first_delta = True
        for at_ms, kind, payload in schedule:
            if await self._pause_until(start + at_ms / 1000 / self._speed):
                break
            if kind == "audio":
                event: m.ServerEvent = m.ServerEventResponseAudioDelta(delta=payload, **ids)
            elif kind == "word":
                event = m.ServerEventResponseAudioTimestampDelta(
                    audio_offset_ms=payload.start_ms,
                    audio_duration_ms=payload.duration_ms,
                    text=payload.text,
                    **ids,
                )
            elif audio_mode:
                event = m.ServerEventResponseAudioTranscriptDelta(delta=payload, **ids)
            else:
                event = m.ServerEventResponseTextDelta(delta=payload, **ids)
            if not await self._send(event):
                return
            if kind == "audio":
                item.audio += payload
            elif kind == "text":
                item.text += payload
            if kind != "word" and first_delta and self._faults.drop_mid_response:
                self._on_fault_drop()
                return
            first_delta = first_delta and kind == "word"

        item.audio = bytes(item.audio)
        if self._cancelled.is_set():
            await self._finish_cancelled()
        else:
            await self._finish_completed(audio_mode, ids, timestamps)

    async def _finish_without_message(self) -> None:
        """``response.done`` of a response whose output is tool calls only."""
        if self._cancelled.is_set():
            self.status = "cancelled"
            await self._send(
                m.ServerEventResponseDone(response=self._response("cancelled", [], self._usage()))
            )
            return
        self.status = "completed"
        await self._send(
            m.ServerEventResponseDone(
                response=self._response("completed", list(self.outputs), self._usage())
            )
        )

    async def _finish_cancelled(self) -> None:
        self.status = "cancelled"
        self.item.status = "incomplete"
        part = self._part()
        await self._send(
            m.ServerEventResponseOutputItemDone(
                response_id=self.id,
                output_index=self.output_index,
                item=self._message("incomplete", part),
            )
        )
        output = [*self.outputs, self._message("incomplete", part)]
        await self._send(
            m.ServerEventResponseDone(response=self._response("cancelled", output, self._usage()))
        )

    def _usage(self, reply: StoredItem | None = None) -> m.TokenUsage:
        """This response's tokens (the message so far when cut), and the spend they add."""
        if reply is None and (self.item.text or self.item.audio):
            reply = self.item
        calls = (o for o in self.outputs if hasattr(o, "get"))
        arguments = " ".join(str(o.get("arguments") or "") for o in calls)
        instructions = str(self._session.get("instructions") or "")
        return token_usage(self._conversation, reply, instructions, arguments)

    def _part(self) -> Any:
        if self.item.kind == "audio":
            return m.ResponseAudioContentPart(transcript=self.item.text)
        return m.ResponseTextContentPart(text=self.item.text)

    async def _finish_completed(
        self, audio_mode: bool, ids: dict[str, Any], timestamps: bool
    ) -> None:
        item = self.item
        self.status = "completed"  # from here on a cancel finds no active response
        if audio_mode:
            if timestamps:
                await self._send(m.ServerEventResponseAudioTimestampDone(**ids))
            await self._send(m.ServerEventResponseAudioDone(**ids))
            await self._send(m.ServerEventResponseAudioTranscriptDone(transcript=item.text, **ids))
        else:
            await self._send(m.ServerEventResponseTextDone(text=item.text, **ids))
        await self._send(m.ServerEventResponseContentPartDone(part=self._part(), **ids))
        item.status = "completed"
        await self._send(
            m.ServerEventResponseOutputItemDone(
                response_id=self.id,
                output_index=self.output_index,
                item=self._message("completed", self._part()),
            )
        )
        usage = self._usage(item)
        output = [*self.outputs, self._message("completed", self._part())]
        await self._send(
            m.ServerEventResponseDone(response=self._response("completed", output, usage))
        )
