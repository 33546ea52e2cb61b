"""Energy-based server VAD over PCM16 mono audio.

The audio is cut into 10 ms frames; a frame is *voiced* when its RMS level exceeds a level
derived from the session's ``threshold`` (0..1 maps linearly onto -70..-10 dBFS, so the
default 0.5 is -40 dBFS). Speech starts when 3 of 5 consecutive frames are voiced and stops
once ``silence_duration_ms`` of unvoiced audio follows the last voiced frame.

Times are on the session's input timeline (milliseconds of audio appended since the
connection opened), so they do not depend on how fast or in which chunk sizes the client
sends. ``audio_start_ms``/``audio_end_ms`` mark where the speech itself is; the prefix
padding is applied to the audio that is committed, not to the reported times.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["FRAME_MS", "VadEvent", "VoiceActivityDetector", "threshold_dbfs"]

FRAME_MS = 10
_ONSET_WINDOW = 5
_ONSET_VOICED = 3


def threshold_dbfs(threshold: float) -> float:
    """The frame level (dBFS) above which audio counts as speech for a 0..1 threshold."""
    return -70.0 + 60.0 * min(1.0, max(0.0, threshold))


@dataclass(frozen=True)
class VadEvent:
    """A VAD transition: ``kind`` is ``"started"`` or ``"stopped"``, at ``ms`` (input timeline)."""

    kind: str
    ms: int


class VoiceActivityDetector:
    """Streaming speech start/stop detector; feed it PCM16 bytes, get :class:`VadEvent` s."""

    def __init__(
        self,
        rate: int,
        *,
        threshold: float = 0.5,
        silence_duration_ms: int = 500,
        speech_duration_ms: int = 0,
        start_ms: int = 0,
    ) -> None:
        self.rate = rate
        self.frame_samples = rate * FRAME_MS // 1000
        self.level_db = threshold_dbfs(threshold)
        self.silence_frames = max(1, round(silence_duration_ms / FRAME_MS))
        self.speech_frames = round(speech_duration_ms / FRAME_MS)
        """Speech must last this many frames before it starts a turn (``speech_duration_ms``)."""
        self._onset: int | None = None
        """First frame of speech heard but not yet long enough to start a turn."""
        self.in_speech = False
        self._pending = b""
        self._frame_index = start_ms // FRAME_MS
        self._recent: deque[tuple[int, bool]] = deque(maxlen=_ONSET_WINDOW)
        self._last_voiced = -1

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Process more audio; return the transitions it completes, in order."""
        data = self._pending + pcm
        frame_bytes = self.frame_samples * 2
        usable = len(data) - len(data) % frame_bytes
        self._pending = data[usable:]
        if usable == 0:
            return []
        frames = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
        frames = frames.reshape(-1, self.frame_samples)
        levels = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
        events: list[VadEvent] = []
        for level in levels:
            events.extend(self._step(bool(level > self.level_db)))
        return events

    def _step(self, voiced: bool) -> list[VadEvent]:
        index = self._frame_index
        self._frame_index += 1
        if voiced:
            self._last_voiced = index
        if self._onset is not None:
            if index - self._last_voiced >= self.silence_frames:
                self._onset = None  # too short to be a turn: as if never heard
            elif index - self._onset >= self.speech_frames:
                self.in_speech, onset, self._onset = True, self._onset, None
                return [VadEvent("started", onset * FRAME_MS)]
            return []
        if not self.in_speech:
            self._recent.append((index, voiced))
            voiced_frames = [i for i, v in self._recent if v]
            if len(voiced_frames) >= _ONSET_VOICED:
                self._recent.clear()
                if self.speech_frames > index - voiced_frames[0]:
                    self._onset = voiced_frames[0]
                    return []
                self.in_speech = True
                return [VadEvent("started", voiced_frames[0] * FRAME_MS)]
            return []
        if index - self._last_voiced >= self.silence_frames:
            self.in_speech = False
            return [VadEvent("stopped", (self._last_voiced + 1) * FRAME_MS)]
        return []
