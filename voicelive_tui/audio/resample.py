"""Sample-rate conversion with soxr, and WAV loading for the file backend.

Resampling never runs in a real-time callback: devices that cannot do 24 kHz run at
their own rate, their rings hold device-rate samples, and the loop thread converts with
a streaming :class:`StreamResampler` (``soxr.ResampleStream``) on the way in and out.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from .base import SAMPLE_RATE, AudioError


class StreamResampler:
    """Streaming int16 mono resampler; a no-op when both rates are equal."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")

    @property
    def active(self) -> bool:
        """True when the rates differ and samples are really converted."""
        return self._stream is not None

    def process(self, samples: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Convert the next chunk of a continuous stream (``last`` flushes the tail)."""
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(np.ascontiguousarray(samples, dtype=np.int16), last=last)

    def reset(self) -> None:
        """Forget the filter state (after a barge-in: old audio must not leak)."""
        if self._stream is not None:
            self._stream.clear()


def resample(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """One-shot int16 mono conversion of a whole signal."""
    if in_rate == out_rate:
        return samples.astype(np.int16, copy=False)
    return soxr.resample(np.ascontiguousarray(samples, dtype=np.int16), in_rate, out_rate)


def _pcm_to_int16(raw: bytes, width: int) -> np.ndarray:
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if width == 1:  # unsigned 8-bit
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (b[:, 2].astype(np.int8).astype(np.int16) << 8 | b[:, 1]).astype(np.int16)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise AudioError(f"unsupported WAV sample width: {width} bytes")


def load_wav_mono(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a PCM WAV as int16 mono at ``rate`` (channels averaged, soxr resampled)."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            in_rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioError(f"cannot read WAV {path}: {exc}") from exc
    samples = _pcm_to_int16(raw, width)
    if channels > 1:
        frames = samples[: samples.size // channels * channels].reshape(-1, channels)
        samples = frames.astype(np.int32).mean(axis=1).astype(np.int16)
    return resample(samples, in_rate, rate)
