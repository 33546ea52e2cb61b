"""The emulated session's input audio events: append (with server VAD), commit, clear."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from azure.ai.voicelive import models as m

from .audio_input import InputAudio
from .echo import InputEcho
from .items import ClientInputError, require, wire_item
from .recognition import Recogniser, RecognitionError, bias_phrases
from .responder import ActiveResponse
from .state import ConnectionRecord, StoredItem, new_id
from .transcripts import Transcripts
from .turn_end import end_wait_ms, recognises_words
from .vad import VadEvent

__all__ = ["AudioEvents"]


class AudioEvents:
    """``input_audio_buffer.*`` and ``output_audio_buffer.clear``: the handlers an
    :class:`~.connection.EmulatorSession` owns, with the input audio buffer they fill, the
    echo cancellation the audio goes through first and the recognition of committed turns.

    Server VAD may cancel the session's active response and start the next one: what
    the response is, and how to start or cancel one, the session passes in."""

    def __init__(
        self,
        record: ConnectionRecord,
        *,
        max_append_bytes: int,
        send: Callable[[m.ServerEvent], Awaitable[bool]],
        active_response: Callable[[], ActiveResponse | None],
        cancel_active: Callable[[str], Awaitable[None]],
        start_response: Callable[[dict[str, Any]], Awaitable[None]],
        recogniser: Recogniser,
    ) -> None:
        self.record = record
        self.session = record.session  # updated in place by session.update
        self.conversation = record.conversation
        self.max_append_bytes = max_append_bytes
        self.audio = InputAudio(self.session)
        self.echo = InputEcho()
        self.echo.configure(self.session)
        self.send = send
        self.recogniser = recogniser
        self.transcripts = Transcripts(
            self.session, recogniser, send, agent_mode=lambda: bool(self.record.agent_mode)
        )
        self._active_response = active_response
        self._cancel_active = cancel_active
        self._start_response = start_response

    @property
    def active(self) -> ActiveResponse | None:
        """The session's response in progress, if any."""
        return self._active_response()

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
        """The client event types these handlers answer."""
        return {
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "output_audio_buffer.clear": self._on_output_clear,
        }

    async def _on_append(self, data: dict[str, Any]) -> None:
        encoded = require(data, "audio", str)
        if len(encoded) > self.max_append_bytes * 4 // 3 + 4:
            raise ClientInputError(
                "audio_too_large",
                f"Audio chunk too large: at most {self.max_append_bytes} bytes per append.",
                "audio",
            )
        try:
            pcm = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ClientInputError("invalid_audio", "audio is not valid base64.", "audio") from None
        if len(pcm) > self.max_append_bytes:
            raise ClientInputError(
                "audio_too_large",
                f"Audio chunk too large: at most {self.max_append_bytes} bytes per append.",
                "audio",
            )
        frame = 2 * self.echo.channels
        if len(pcm) % frame:
            raise ClientInputError(
                "invalid_audio",
                f"PCM16 audio with {self.echo.channels} channel(s) must be a whole number of"
                f" {frame}-byte frames.",
                "audio",
            )
        self.record.appended_audio_bytes += len(pcm)
        pcm = self.echo.microphone(pcm, asyncio.get_running_loop().time())
        vad_events = self.audio.append(pcm)
        if not vad_events:
            self.transcripts.hear(pcm)
        for vad_event, item_id in vad_events:
            ms = vad_event.ms
            if vad_event.kind == "started":
                self.record.vad_events.append(vad_event)
                self.transcripts.speech_started(item_id, *self.audio.turn_so_far())
                await self.send(
                    m.ServerEventInputAudioBufferSpeechStarted(audio_start_ms=ms, item_id=item_id)
                )
                td = self.session.get("turn_detection") or {}
                if self.active is not None and td.get("interrupt_response", True):
                    await self._cancel_active("turn_detected")
            elif vad_event.kind == "ended" or not await self._hold(ms):
                self.record.vad_events.append(VadEvent("stopped", ms))
                await self.send(
                    m.ServerEventInputAudioBufferSpeechStopped(audio_end_ms=ms, item_id=item_id)
                )
                segment, rate = self.audio.take_turn(ms)
                await self._commit(segment, rate, item_id)
                td = self.session.get("turn_detection") or {}
                if td.get("create_response", True) and self.active is None:
                    await self._start_response({})

    async def _hold(self, end_ms: int) -> bool:
        """Speech stopped at ``end_ms``: True when the detector waits longer before ending
        the turn (turn_end), which then continues if the user goes on."""
        td = self.session.get("turn_detection") or {}
        words: str | None = None
        if recognises_words(td, self.session):
            try:
                heard = await self.recogniser.transcribe(
                    self.audio.peek_turn(end_ms), self.audio.rate, bias_phrases(self.session)
                )
                words = heard.text
            except RecognitionError:
                words = None
        wait = end_wait_ms(td, self.session, words)
        if wait <= self.audio.window_ms:
            return False
        self.audio.hold(end_ms, end_ms + wait)
        return True

    async def _commit(self, pcm: bytes, rate: int, item_id: str) -> None:
        previous = self.conversation.last_id()
        item = StoredItem(id=item_id, role="user", kind="audio", audio=pcm, rate=rate)
        self.conversation.items.append(item)
        await self.send(
            m.ServerEventInputAudioBufferCommitted(previous_item_id=previous, item_id=item_id)
        )
        await self.send(
            m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_item(item))
        )
        self.transcripts.committed(item)

    async def _on_commit(self, data: dict[str, Any]) -> None:
        pcm, rate = self.audio.take_all()
        ms = len(pcm) * 1000 // (2 * rate)
        if ms < 100:
            raise ClientInputError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms"
                f" of audio, but buffer only has {ms}ms of audio.",
            )
        await self._commit(pcm, rate, new_id("item"))

    async def _on_clear(self, data: dict[str, Any]) -> None:
        self.audio.take_all()
        self.transcripts.cleared()
        await self.send(m.ServerEventInputAudioBufferCleared())

    async def _on_output_clear(self, data: dict[str, Any]) -> None:
        await self.send(m.ServerEventOutputAudioBufferCleared())
