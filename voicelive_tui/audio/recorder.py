"""``--record FILE.wav``: a stereo recording of the session.

Left = the microphone as sent (silence while muted), right = the agent audio as played
(silence when nothing played), both PCM16 at :data:`SAMPLE_RATE`. The two sides arrive
separately (capture and playback run on their own device clocks); the recorder pairs them
sample by sample and, when one side stalls for more than ``max_skew_s`` (no input device,
a lost output), pads it with silence so the other side keeps being written. The WAV
header is rewritten and the file flushed at least every ``flush_s`` seconds, so a crash
loses at most about a second. Runs on the loop thread only, never in a callback.
"""

from __future__ import annotations

import os
import time
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from voicelive_tui.platform_support import O_BINARY, restrict_to_owner

from .base import SAMPLE_RATE


def open_private_wav(path: Path) -> BinaryIO:
    """``path`` opened for writing with mode 0600: a recording is as private as the logs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_BINARY, 0o600)
    try:
        restrict_to_owner(fd)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def _as_int16(pcm: bytes | np.ndarray) -> np.ndarray:
    if isinstance(pcm, np.ndarray):
        return pcm.astype(np.int16, copy=False).reshape(-1)
    return np.frombuffer(pcm, dtype=np.int16)


class SessionRecorder:
    """Writes mic (left) and agent (right) audio to one stereo WAV, incrementally."""

    def __init__(
        self,
        path: str | Path,
        *,
        rate: int = SAMPLE_RATE,
        flush_s: float = 1.0,
        max_skew_s: float = 0.5,
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self._file = open_private_wav(self.path)
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._left: list[np.ndarray] = []
        self._right: list[np.ndarray] = []
        self._left_n = 0
        self._right_n = 0
        self._max_skew = int(max_skew_s * rate)
        self._flush_s = flush_s
        self._last_flush = time.monotonic()
        self.closed = False

    def add_mic(self, pcm: bytes | np.ndarray) -> None:
        """Append microphone samples (as sent; pass silence while muted)."""
        self._add(self._left, _as_int16(pcm), left=True)

    def add_speaker(self, pcm: bytes | np.ndarray) -> None:
        """Append agent samples as played (silence included)."""
        self._add(self._right, _as_int16(pcm), left=False)

    def _add(self, side: list[np.ndarray], samples: np.ndarray, *, left: bool) -> None:
        if self.closed or samples.size == 0:
            return
        side.append(samples.copy())
        if left:
            self._left_n += samples.size
        else:
            self._right_n += samples.size
        self._write_ready()
        if time.monotonic() - self._last_flush >= self._flush_s:
            self.flush()

    @staticmethod
    def _take(side: list[np.ndarray], n: int) -> np.ndarray:
        data = np.concatenate(side) if len(side) > 1 else side[0]
        side.clear()
        if data.size > n:
            side.append(data[n:])
        return data[:n]

    def _write_ready(self, *, pad: bool = False) -> None:
        """Write the frames both sides have; pad a side lagging by more than max skew."""
        skew = self._left_n - self._right_n
        if pad or skew > self._max_skew:
            if skew > 0:
                self._right.append(np.zeros(skew, np.int16))
                self._right_n += skew
        if pad or -skew > self._max_skew:
            if skew < 0:
                self._left.append(np.zeros(-skew, np.int16))
                self._left_n += -skew
        n = min(self._left_n, self._right_n)
        if n == 0:
            return
        frames = np.empty((n, 2), dtype=np.int16)
        frames[:, 0] = self._take(self._left, n)
        frames[:, 1] = self._take(self._right, n)
        self._left_n -= n
        self._right_n -= n
        self._wav.writeframes(frames.tobytes())

    def flush(self) -> None:
        """Make what was written so far durable (header and data)."""
        if self.closed:
            return
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Write what is left (padding the shorter side) and close the file; idempotent."""
        if self.closed:
            return
        self._write_ready(pad=True)
        self._wav.close()
        self._file.close()
        self.closed = True
