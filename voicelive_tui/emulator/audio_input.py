"""The input audio buffer of one session: its timeline, server VAD and committed turns."""

from __future__ import annotations

from typing import Any

from .state import new_id
from .turn_end import SEMANTIC_TYPES, probe_ms
from .vad import VadEvent, VoiceActivityDetector

__all__ = ["InputAudio"]

_KEEP_BEFORE_SPEECH_MS = 1000


class InputAudio:
    """Buffers appended PCM16, runs VAD when the session has ``turn_detection``.

    Times are milliseconds on the session's input timeline (all audio appended so far).
    A turn whose end the detector wants to wait for is *held* (:meth:`hold`): speech that
    resumes before the wait is over continues it; otherwise an ``"ended"`` event ends it.
    """

    def __init__(self, session: dict[str, Any]) -> None:
        self.rate = 24000
        self.buffer = bytearray()
        self.buffer_start_ms = 0.0
        self.turn_detection: dict[str, Any] | None = None
        self.window_ms = 0
        """Silence after which the VAD reports a candidate end (turn_end.probe_ms)."""
        self.vad: VoiceActivityDetector | None = None
        self.speech_item_id: str | None = None
        self.speech_start_ms = 0
        self.held_end_ms: int | None = None
        self.held_until_ms = 0.0
        self.reconfigure(session, force=True)

    @property
    def now_ms(self) -> float:
        """End of the input timeline."""
        return self.buffer_start_ms + len(self.buffer) * 1000 / (2 * self.rate)

    def reconfigure(self, session: dict[str, Any], *, force: bool = False) -> None:
        """Follow a session change; keeps VAD state when neither rate nor VAD settings change."""
        rate = int(session.get("input_audio_sampling_rate") or 24000)
        td = session.get("turn_detection")
        window = probe_ms(td, session) if td else 0
        if not force and (rate, td, window) == (self.rate, self.turn_detection, self.window_ms):
            return
        if rate != self.rate:
            self.buffer_start_ms, self.buffer = self.now_ms, bytearray()
            self.rate = rate
        self.turn_detection = dict(td) if td else None
        self.window_ms = window
        self._reset_vad()

    def _reset_vad(self) -> None:
        self.speech_item_id = None
        self.held_end_ms = None
        td = self.turn_detection
        if td is None:
            self.vad = None
            return
        semantic = td.get("type") in SEMANTIC_TYPES
        self.vad = VoiceActivityDetector(
            self.rate,
            threshold=float(td.get("threshold", 0.5)),
            silence_duration_ms=self.window_ms,
            speech_duration_ms=int(td.get("speech_duration_ms") or 0) if semantic else 0,
            start_ms=int(self.now_ms),
        )

    def hold(self, end_ms: int, until_ms: float) -> None:
        """Wait for the turn that stopped at ``end_ms`` until the input timeline reaches
        ``until_ms`` before ending it."""
        self.held_end_ms, self.held_until_ms = end_ms, until_ms

    def peek_turn(self, end_ms: int) -> bytes:
        """The audio of the turn so far (with prefix padding), left in the buffer."""
        pad = int((self.turn_detection or {}).get("prefix_padding_ms", 300))
        return bytes(self.buffer[self._offset(self.speech_start_ms - pad) : self._offset(end_ms)])

    def _offset(self, ms: float) -> int:
        samples = round((ms - self.buffer_start_ms) * self.rate / 1000)
        return min(len(self.buffer), max(0, samples * 2))

    def append(self, pcm: bytes) -> list[tuple[VadEvent, str]]:
        """Add audio; return the VAD transitions it completes with the user item id."""
        self.buffer += pcm
        if self.vad is None:
            return []
        out: list[tuple[VadEvent, str]] = []
        for event in self.vad.feed(pcm):
            if event.kind == "started":
                if self.held_end_ms is not None:
                    self.held_end_ms = None  # the user goes on: the same turn
                    continue
                self.speech_item_id = new_id("item")
                self.speech_start_ms = event.ms
            out.append((event, self.speech_item_id or new_id("item")))
        if self.held_end_ms is not None and self.now_ms >= self.held_until_ms:
            ended = VadEvent("ended", self.held_end_ms)
            self.held_end_ms = None
            out.append((ended, self.speech_item_id or new_id("item")))
        if not self.vad.in_speech and not out and self.held_end_ms is None:
            # Outside speech only the prefix padding can still be needed: bound the buffer.
            pad = int((self.turn_detection or {}).get("prefix_padding_ms", 300))
            cut = self._offset(self.now_ms - pad - _KEEP_BEFORE_SPEECH_MS)
            if cut > len(self.buffer) // 2 and cut > 2 * self.rate * 10:
                del self.buffer[:cut]
                self.buffer_start_ms += cut * 1000 / (2 * self.rate)
        return out

    def turn_so_far(self) -> tuple[bytes, int]:
        """The audio of the turn being spoken so far (with prefix padding), and its rate."""
        pad = int((self.turn_detection or {}).get("prefix_padding_ms", 300))
        return bytes(self.buffer[self._offset(self.speech_start_ms - pad) :]), self.rate

    def take_turn(self, end_ms: int) -> tuple[bytes, int]:
        """Remove and return the audio of the turn that just ended (with prefix padding)."""
        pad = int((self.turn_detection or {}).get("prefix_padding_ms", 300))
        start = self._offset(self.speech_start_ms - pad)
        end = self._offset(end_ms)
        segment = bytes(self.buffer[start:end])
        del self.buffer[:end]
        self.buffer_start_ms += end * 1000 / (2 * self.rate)
        self.speech_item_id = None
        return segment, self.rate

    def take_all(self) -> tuple[bytes, int]:
        """Remove and return everything buffered (commit or clear); VAD starts afresh."""
        segment = bytes(self.buffer)
        self.buffer_start_ms = self.now_ms
        self.buffer = bytearray()
        self._reset_vad()
        return segment, self.rate
