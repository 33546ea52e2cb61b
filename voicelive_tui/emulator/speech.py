"""Text to PCM16 speech for the emulated agent.

Uses Debian's ``espeak-ng`` when it is on PATH, resampled to the session's output rate with
``soxr``; otherwise a clearly audible tone pattern (one beep per word). Never silence.
Synthesised phrases are cached per (text, rate) in a bounded LRU cache, so repeated
greetings cost nothing and quoted messages cannot grow memory without limit.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import wave
from collections import OrderedDict

import numpy as np
import soxr

__all__ = ["cache_size", "espeak_available", "fallback_tones", "resample_pcm16", "synthesize"]

_CACHE: OrderedDict[tuple[str, int, bool], bytes] = OrderedDict()
_CACHE_LIMIT = 256
"""Most phrases kept."""
_CACHE_BYTES = 4 * 1024 * 1024
"""Most PCM bytes kept (about 87 s of 24 kHz speech: the phrases said again and again)."""


def espeak_available() -> bool:
    """True when ``espeak-ng`` is on PATH."""
    return shutil.which("espeak-ng") is not None


def resample_pcm16(pcm: bytes | bytearray, src_rate: int, dst_rate: int) -> bytes:
    """Resample mono PCM16 little-endian audio from ``src_rate`` to ``dst_rate``."""
    if src_rate == dst_rate or not pcm:
        return bytes(pcm)
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2)
    return bytes(soxr.resample(samples.astype(np.int16), src_rate, dst_rate).tobytes())


def _wav_payload(wav: bytes) -> tuple[bytes, int]:
    """Return (PCM16 data, sample rate) of a mono WAV stream (espeak-ng's sizes are bogus:
    it streams, so ``wave`` is asked for all it has)."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
                raise ValueError("expected mono PCM16 audio")
            rate = reader.getframerate()
            data = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a WAV stream: {exc}") from exc
    return data[: len(data) - len(data) % 2], rate


def fallback_tones(text: str, rate: int) -> bytes:
    """A clearly audible stand-in for speech: one short two-tone beep per word."""
    words = max(1, len(text.split()))
    beep = int(rate * 0.14)
    gap = np.zeros(int(rate * 0.06), dtype=np.float32)
    t = np.arange(beep, dtype=np.float32) / rate
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    pieces: list[np.ndarray] = []
    for i in range(words):
        freq = 440.0 if i % 2 == 0 else 660.0
        pieces.append(0.3 * envelope * np.sin(2 * np.pi * freq * t))
        pieces.append(gap)
    audio = np.concatenate(pieces)
    return (audio * 32767.0).astype("<i2").tobytes()


async def _espeak(text: str) -> tuple[bytes, int]:
    proc = await asyncio.create_subprocess_exec(
        "espeak-ng",
        "--stdout",
        "-v",
        "en-us",
        text,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng exited with {proc.returncode}")
    return _wav_payload(out)


async def synthesize(text: str, rate: int, *, use_espeak: bool = True) -> bytes:
    """Speak ``text`` as mono PCM16 at ``rate`` Hz (cached). Never returns silence."""
    key = (text, rate, use_espeak)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    pcm = b""
    if use_espeak and espeak_available():
        try:
            raw, src_rate = await _espeak(text)
            pcm = resample_pcm16(raw, src_rate, rate)
        except (OSError, RuntimeError, ValueError):
            pcm = b""
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size == 0 or int(np.abs(samples).max()) < 64:
        pcm = fallback_tones(text, rate)
    _remember(key, pcm)
    return pcm


def _remember(key: tuple[str, int, bool], pcm: bytes) -> None:
    """Cache ``pcm``, dropping the least recently used phrases beyond the limits."""
    _CACHE[key] = pcm
    total = sum(len(v) for v in _CACHE.values())
    while len(_CACHE) > 1 and (len(_CACHE) > _CACHE_LIMIT or total > _CACHE_BYTES):
        _, dropped = _CACHE.popitem(last=False)
        total -= len(dropped)


def cache_size() -> tuple[int, int]:
    """(phrases, PCM bytes) held by the speech cache."""
    return len(_CACHE), sum(len(v) for v in _CACHE.values())
