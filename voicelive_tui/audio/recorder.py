"""``--record FILE.wav``: a stereo recording of the session.

Left = the microphone as sent (silence while muted), right = the agent audio as played
(silence when nothing played), both PCM16 at :data:`SAMPLE_RATE`. With a client echo
reference (``reference=True``) a third channel holds the reference sent beside the
microphone (what sounded when each microphone sample was captured), so the alignment of
the two can be checked by eye. The sides arrive
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


MIC, SPEAKER, REFERENCE = range(3)
"""The recording's channels."""


class SessionRecorder:
    """Writes mic (left) and agent (right) audio, and optionally the echo reference (third
    channel), to one WAV, incrementally."""

    def __init__(
        self,
        path: str | Path,
        *,
        rate: int = SAMPLE_RATE,
        flush_s: float = 1.0,
        max_skew_s: float = 0.5,
        reference: bool = False,
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self.channels = 3 if reference else 2
        self._file = open_private_wav(self.path)
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(self.channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._sides: list[list[np.ndarray]] = [[] for _ in range(self.channels)]
        self._counts = [0] * self.channels
        self._max_skew = int(max_skew_s * rate)
        self._flush_s = flush_s
        self._last_flush = time.monotonic()
        self.closed = False

    def add_mic(self, pcm: bytes | np.ndarray) -> None:
        """Append microphone samples (as sent; pass silence while muted)."""
        self._add(MIC, _as_int16(pcm))

    def add_speaker(self, pcm: bytes | np.ndarray) -> None:
        """Append agent samples as played (silence included)."""
        self._add(SPEAKER, _as_int16(pcm))

    def add_reference(self, pcm: bytes | np.ndarray) -> None:
        """Append echo reference samples, one per microphone sample (third channel only)."""
        if self.channels > REFERENCE:
            self._add(REFERENCE, _as_int16(pcm))

    def _add(self, channel: int, samples: np.ndarray) -> None:
        if self.closed or samples.size == 0:
            return
        self._sides[channel].append(samples.copy())
        self._counts[channel] += samples.size
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
        """Write the frames every side has; pad a side lagging by more than max skew."""
        counts = self._counts
        most = max(counts)
        for channel, count in enumerate(counts):
            lag = most - count
            if lag > 0 and (pad or lag > self._max_skew):
                self._sides[channel].append(np.zeros(lag, np.int16))
                counts[channel] = most
        n = min(counts)
        if n == 0:
            return
        frames = np.empty((n, self.channels), dtype=np.int16)
        for channel, side in enumerate(self._sides):
            frames[:, channel] = self._take(side, n)
            counts[channel] -= n
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
