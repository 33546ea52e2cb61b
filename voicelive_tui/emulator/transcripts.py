"""The input audio transcription events of a session's spoken turns.

With a streaming transcription model (``input_audio_transcription`` set, its model not
``whisper-1``), ``conversation.item.input_audio_transcription.delta`` events carry the
words while the user is still speaking: from speech start, every :data:`STEP_MS` of audio
goes to the recogniser, whose partial hypothesis gives the words that have settled (two
hypotheses in a row agree on them, or 600 ms of audio followed them: ``SettledWords``).
Once the turn is committed it is decoded whole (better than the partials): the deltas
end with what that adds to the words already sent, and ``...transcription.completed``
carries it. The deltas add up to the completed transcript unless the whole decode
changed a word already sent; then ``completed`` has the final words, as a client that
shows partial words must expect (the service's deltas are partial results too). Without
a streaming model only ``completed`` comes, as from ``whisper-1``.

Turns are recognised only when the session asks for their transcript
(``input_audio_transcription``: the service runs its recogniser only then) or when the
words decide what the emulated model does (tools to choose from, an agent's search);
otherwise a turn is known by its length only. The events are sent with
``input_audio_transcription`` set, and in agent mode (an agent's input is transcribed: the
SDK's agent sample prints them without asking); otherwise the words are only the emulated
model's to act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from azure.ai.voicelive import models as m

from .recognition import (
    Recogniser,
    RecognitionError,
    SettledWords,
    bias_phrases,
    transcript_logprobs,
    transcript_phrase,
)
from .state import StoredItem
from .tools import mcp_servers, mcp_tools_for
from .turn_end import without_fillers

__all__ = ["STEP_MS", "Transcripts"]

STEP_MS = 300
"""Audio of a turn being spoken sent to the recogniser at a time."""
DELTA_WORDS = 2
"""Most words per delta of what the whole decode adds."""


class _Stream:
    """The turn being spoken, while its words stream."""

    def __init__(self, item_id: str, rate: int) -> None:
        self.item_id = item_id
        self.rate = rate
        self.words = SettledWords()
        self.pending = bytearray()
        self.order = asyncio.Lock()
        """Steps and the turn's final decode send their events in the order they began."""


class Transcripts:
    """Recognition of a session's turns and the transcription events it sends."""

    def __init__(
        self,
        session: dict[str, Any],
        recogniser: Recogniser,
        send: Callable[[m.ServerEvent], Awaitable[bool]],
        *,
        agent_mode: Callable[[], bool] = lambda: False,
    ) -> None:
        self.session = session  # updated in place by session.update
        self.recogniser = recogniser
        self.send = send
        self.agent_mode = agent_mode
        self.turns: set[asyncio.Task[None]] = set()
        """Committed turns being recognised (a reply waits for them)."""
        self.steps: set[asyncio.Task[None]] = set()
        """Audio of the turn being spoken on its way to the recogniser."""
        self._stream: _Stream | None = None

    @property
    def streaming(self) -> bool:
        """Whether the session's transcription model streams deltas."""
        transcription = self.session.get("input_audio_transcription") or {}
        return bool(transcription) and transcription.get("model") != "whisper-1"

    def needs_words(self) -> bool:
        """Whether committed turns are recognised (see the module docstring)."""
        return bool(
            self.session.get("input_audio_transcription")
            or self.session.get("tools")
            or self.agent_mode()
        )

    @property
    def announced(self) -> bool:
        """Whether transcription events are sent (see the module docstring)."""
        return bool(self.session.get("input_audio_transcription")) or self.agent_mode()

    def speech_started(self, item_id: str, pcm: bytes, rate: int) -> None:
        """A turn starts (``pcm``: its audio so far, prefix padding included)."""
        self.cleared()
        if not self.needs_words():
            return
        # The worker starts while the user is still speaking (about 0.3 s of CPU): a
        # session that never hears speech never pays for it.
        self.recogniser.warm_up()
        if self.streaming:
            self._stream = _Stream(item_id, rate)
            self.hear(pcm)

    def hear(self, pcm: bytes) -> None:
        """More audio of the turn being spoken (nothing when no turn streams)."""
        stream = self._stream
        if stream is None:
            return
        stream.pending += pcm
        if len(stream.pending) >= stream.rate * 2 * STEP_MS // 1000:
            chunk = bytes(stream.pending)
            stream.pending.clear()
            self._spawn(self.steps, self._step(stream, chunk), f"hear-{stream.item_id}")

    def committed(self, item: StoredItem) -> None:
        """Recognise a committed turn (its stream, if it had one, ends with it)."""
        stream = self._stream
        if stream is not None and stream.item_id != item.id:
            self.cleared()
            stream = None
        self._stream = None
        if not self.needs_words():
            item.text = f"[speech, {item.audio_ms / 1000:.1f} s]"  # known by its length only
            return
        self._spawn(self.turns, self._transcribe(item, stream), f"transcribe-{item.id}")

    def cleared(self) -> None:
        """The turn being spoken will not be committed: its stream ends."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._spawn(self.steps, self._close(stream), f"forget-{stream.item_id}")

    def tasks(self) -> list[asyncio.Task[None]]:
        """Every task still running (cancelled when the connection closes)."""
        return [*self.turns, *self.steps]

    def _spawn(
        self, tasks: set[asyncio.Task[None]], work: Coroutine[Any, Any, None], name: str
    ) -> None:
        task = asyncio.create_task(work, name=name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _step(self, stream: _Stream, pcm: bytes) -> None:
        async with stream.order:
            try:
                partial, heard_ms = await self.recogniser.step(stream.item_id, pcm, stream.rate)
            except RecognitionError:
                return  # the committed turn reports the failure
            settled = stream.words.settle(partial, heard_ms)
            if settled:
                await self._delta(
                    stream.item_id, settled, first=len(stream.words.given) == len(settled)
                )

    async def _close(self, stream: _Stream) -> None:
        async with stream.order:
            try:
                await self.recogniser.close_stream(stream.item_id)
            except RecognitionError:
                pass

    async def _delta(self, item_id: str, words: list[str], *, first: bool) -> None:
        text = " ".join(words)
        await self.send(
            m.ServerEventConversationItemInputAudioTranscriptionDelta(
                item_id=item_id, content_index=0, delta=text if first else " " + text
            )
        )

    async def _transcribe(self, item: StoredItem, stream: _Stream | None) -> None:
        """Decode a committed turn whole: the deltas' last words, then ``completed`` (or
        ``failed``, and the turn is known by its length only)."""
        if stream is None:
            await self._decoded(item, None)
            return
        async with stream.order:
            await self._decoded(item, stream)

    async def _decoded(self, item: StoredItem, stream: _Stream | None) -> None:
        include = self.session.get("include") or []
        ids: dict[str, Any] = {"item_id": item.id, "content_index": 0}
        servers = mcp_servers(self.session.get("tools"))
        tools = [t for s in servers for t in mcp_tools_for(s) or []]
        try:
            heard = await self.recogniser.transcribe(
                bytes(item.audio),
                item.rate,
                bias_phrases(self.session, tools),
                stream.item_id if stream is not None else None,
            )
        except RecognitionError as exc:
            item.text = f"[speech, {item.audio_ms / 1000:.1f} s]"
            if not self.announced:
                return
            await self.send(
                m.ServerEventConversationItemInputAudioTranscriptionFailed(
                    error=m.VoiceLiveErrorDetails(
                        type="server_error", code="transcription_failed", message=str(exc)
                    ),
                    **ids,
                )
            )
            return
        if (self.session.get("turn_detection") or {}).get("remove_filler_words"):
            heard = replace(heard, text=without_fillers(heard.text))
        item.text = heard.text
        if not self.announced:
            return
        if self.streaming:
            given = stream.words if stream is not None else SettledWords()
            rest = given.rest(heard.text)
            words = rest.split() if rest else []
            for at in range(0, len(words), DELTA_WORDS):
                first = at == 0 and not given.given
                await self._delta(item.id, words[at : at + DELTA_WORDS], first=first)
        extra: dict[str, Any] = {}
        if "item.input_audio_transcription.logprobs" in include:
            extra["logprobs"] = transcript_logprobs(heard)
        if "item.input_audio_transcription.phrases" in include and heard.words:
            extra["phrases"] = [transcript_phrase(heard)]
        await self.send(
            m.ServerEventConversationItemInputAudioTranscriptionCompleted(
                transcript=heard.text, **ids, **extra
            )
        )
