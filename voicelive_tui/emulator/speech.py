"""Text to PCM16 speech for the emulated agent, with the time of every spoken word.

Uses Debian's espeak-ng: its library (``libespeak-ng.so.1``, through ctypes) when it loads,
which reports where each word starts in the audio; else the ``espeak-ng`` program; the
audio is resampled to the session's output rate with ``soxr``. Without either, a clearly
audible tone pattern (one beep per word). Never silence. Word times come from espeak-ng's
word events, trimmed to the voiced frames measured on the audio (the program gives no
events: its words are spread over the voiced span by length; each beep is one word).
Synthesised phrases are cached per (text, rate) in a bounded LRU cache, so repeated
greetings cost nothing and quoted messages cannot grow memory without limit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import os
import shutil
import struct
import subprocess
import sys
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soxr

from .espeak_worker import HEAD, Espeak, read_exactly

__all__ = [
    "Speech",
    "WordTime",
    "cache_size",
    "espeak_available",
    "fallback_tones",
    "resample_pcm16",
    "synthesize",
    "synthesize_words",
]


@dataclass(frozen=True)
class WordTime:
    """Where one word of the text is spoken: ``token`` indexes ``text.split(" ")``."""

    token: int
    text: str
    start_ms: int
    duration_ms: int


@dataclass(frozen=True)
class Speech:
    """PCM16 mono speech and the time of each spoken word in it."""

    pcm: bytes
    words: tuple[WordTime, ...]


_CACHE: OrderedDict[tuple[str, int, bool], Speech] = OrderedDict()
_CACHE_LIMIT = 256
"""Most phrases kept."""
_CACHE_BYTES = 4 * 1024 * 1024
"""Most PCM bytes kept (about 87 s of 24 kHz speech: the phrases said again and again)."""


WORKER = Path(__file__).with_name("espeak_worker.py")


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


TONE_MS = 140
TONE_GAP_MS = 60
VOICED_RMS = 0.01
"""A 10 ms frame louder than this (about -40 dBFS) is voiced."""
_PUNCTUATION = "\"'.,;:!?()[]{}…—-"


def fallback_tones(text: str, rate: int) -> bytes:
    """A clearly audible stand-in for speech: one short two-tone beep per word."""
    words = max(1, len(text.split()))
    beep = rate * TONE_MS // 1000
    gap = np.zeros(rate * TONE_GAP_MS // 1000, dtype=np.float32)
    t = np.arange(beep, dtype=np.float32) / rate
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    pieces: list[np.ndarray] = []
    for i in range(words):
        freq = 440.0 if i % 2 == 0 else 660.0
        pieces.append(0.3 * envelope * np.sin(2 * np.pi * freq * t))
        pieces.append(gap)
    audio = np.concatenate(pieces)
    return (audio * 32767.0).astype("<i2").tobytes()


def _spoken_tokens(text: str) -> list[tuple[int, str]]:
    """(index in ``text.split(" ")``, word without its punctuation) of each token with one."""
    tokens = [(i, tok.strip(_PUNCTUATION)) for i, tok in enumerate(text.split(" "))]
    return [(i, word) for i, word in tokens if word]


def _tone_words(text: str) -> tuple[WordTime, ...]:
    step = TONE_MS + TONE_GAP_MS
    return tuple(
        WordTime(token, word, n * step, TONE_MS)
        for n, (token, word) in enumerate(_spoken_tokens(text))
    )


def _voiced_frames(pcm: bytes, rate: int) -> np.ndarray:
    """One bool per 10 ms frame of ``pcm``: louder than VOICED_RMS."""
    frame = rate // 100
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    n = len(x) // frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    return np.asarray(rms > VOICED_RMS)


def _trim(voiced: np.ndarray, start_ms: int, end_ms: int) -> tuple[int, int]:
    """[start, end) narrowed to its voiced frames (unchanged when none is voiced)."""
    a, b = start_ms // 10, max(start_ms // 10 + 1, -(-end_ms // 10))
    loud = np.nonzero(voiced[a:b])[0]
    if loud.size == 0:
        return start_ms, max(10, end_ms - start_ms)
    first, last = a + int(loud[0]), a + int(loud[-1]) + 1
    return first * 10, (last - first) * 10


def _measured_words(
    text: str, pcm: bytes, rate: int, starts: dict[int, int] | None
) -> tuple[WordTime, ...]:
    """Word times from ``starts`` (token -> start ms, espeak-ng's word events) trimmed to
    the voiced audio; without events, the voiced span shared out by word length."""
    tokens = _spoken_tokens(text)
    voiced = _voiced_frames(pcm, rate)
    total_ms = len(voiced) * 10
    if not tokens or total_ms == 0:
        return ()
    if not starts:
        loud = np.nonzero(voiced)[0]
        first, last = (int(loud[0]) * 10, int(loud[-1]) * 10 + 10) if loud.size else (0, total_ms)
        weights = [len(word) + 1 for _i, word in tokens]
        scale, pos, starts = (last - first) / sum(weights), float(first), {}
        for (token, _word), weight in zip(tokens, weights, strict=True):
            starts[token] = int(pos)
            pos += weight * scale
    timed = [(token, word, starts[token]) for token, word in tokens if token in starts]
    words: list[WordTime] = []
    previous_end = 0
    for n, (token, word, start) in enumerate(timed):
        end = timed[n + 1][2] if n + 1 < len(timed) else total_ms
        begin, length = _trim(voiced, start, max(start + 10, end))
        if begin < previous_end:  # frames are 10 ms: never overlap the word before
            begin, length = previous_end, max(10, begin + length - previous_end)
        words.append(WordTime(token, word, begin, length))
        previous_end = begin + length
    return tuple(words)


class _Engine(Protocol):
    rate: int

    def speak(self, text: str) -> tuple[bytes, list[tuple[int, int]]]: ...


class _FreshEspeak:
    """espeak-ng's library in the worker process (``espeak_worker.py``): each phrase spoken
    by a fresh copy, so the same text is the same audio whatever was said before."""

    def __init__(self) -> None:
        # Run as a script: importing the package would load the whole server first.
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Lock()
        atexit.register(self.stop)
        assert self._process.stdout is not None
        ready = read_exactly(self._process.stdout, 9)
        if len(ready) < 9 or not ready.startswith(b"ready"):
            self.stop()
            raise OSError("espeak-ng could not be initialised")
        self.rate = int(struct.unpack("<i", ready[5:])[0])

    def speak(self, text: str) -> tuple[bytes, list[tuple[int, int]]]:
        """As :meth:`Espeak.speak` (OSError when the worker is gone)."""
        data = text.encode("utf-8")
        with self._lock:
            stdin, stdout = self._process.stdin, self._process.stdout
            assert stdin is not None and stdout is not None
            try:
                stdin.write(struct.pack("<I", len(data)) + data)
                stdin.flush()
            except (OSError, ValueError) as exc:
                raise OSError(f"the espeak-ng worker failed ({exc!r})") from None
            head = read_exactly(stdout, HEAD.size)
            if len(head) < HEAD.size:
                raise OSError("the espeak-ng worker ended")
            status, size, count = HEAD.unpack(head)
            pcm, flat = read_exactly(stdout, size), read_exactly(stdout, 8 * count)
        if status != 0 or len(pcm) < size or len(flat) < 8 * count:
            raise RuntimeError(f"espeak-ng failed ({status})")
        values = struct.unpack(f"<{2 * count}i", flat)
        return pcm, list(zip(values[::2], values[1::2], strict=True))

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """End the worker: it ends when its input closes."""
        if self._process.returncode is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._process.stdin is not None
                self._process.stdin.close()
            self._process.wait()


_ESPEAK: _Engine | None = None
_ESPEAK_FAILED = False
_ESPEAK_INIT = threading.Lock()


def _espeak_library() -> _Engine | None:
    """The library in its worker, where processes fork; else in this process (its speech
    then depends on what it said before)."""
    global _ESPEAK, _ESPEAK_FAILED
    with _ESPEAK_INIT:
        if isinstance(_ESPEAK, _FreshEspeak) and not _ESPEAK.alive():
            _ESPEAK = None  # the worker died (killed, out of memory): a new one
        if _ESPEAK is None and not _ESPEAK_FAILED:
            try:
                _ESPEAK = _FreshEspeak() if hasattr(os, "fork") else Espeak()
            except (OSError, AttributeError):
                _ESPEAK_FAILED = True
        return _ESPEAK


def _library_speech(text: str, rate: int) -> Speech | None:
    """Speech through the library, word starts from its events (None: no library)."""
    engine = _espeak_library()
    if engine is None:
        return None
    raw, events = engine.speak(text)
    pcm = resample_pcm16(raw, engine.rate, rate)
    owner: list[int] = []  # character -> token index
    for i, tok in enumerate(text.split(" ")):
        owner += [i] * (len(tok) + 1)
    starts: dict[int, int] = {}
    for position, sample in events:
        token = owner[min(max(position - 1, 0), len(owner) - 1)]
        starts.setdefault(token, sample * 1000 // engine.rate)
    return Speech(pcm, _measured_words(text, pcm, rate, starts))


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


def _audible(pcm: bytes) -> bool:
    samples = np.frombuffer(pcm, dtype="<i2")
    return samples.size > 0 and int(np.abs(samples).max()) >= 64


async def synthesize_words(text: str, rate: int, *, use_espeak: bool = True) -> Speech:
    """Speak ``text`` as mono PCM16 at ``rate`` Hz with its word times (cached)."""
    key = (text, rate, use_espeak)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    speech: Speech | None = None
    if use_espeak and text.strip():
        try:
            speech = await asyncio.to_thread(_library_speech, text, rate)
        except (OSError, RuntimeError, ValueError):
            speech = None
        if speech is None and espeak_available():
            try:
                raw, src_rate = await _espeak(text)
                pcm = resample_pcm16(raw, src_rate, rate)
                speech = Speech(pcm, _measured_words(text, pcm, rate, None))
            except (OSError, RuntimeError, ValueError):
                speech = None
    if speech is None or not _audible(speech.pcm):
        speech = Speech(fallback_tones(text, rate), _tone_words(text))
    _remember(key, speech)
    return speech


async def synthesize(text: str, rate: int, *, use_espeak: bool = True) -> bytes:
    """Speak ``text`` as mono PCM16 at ``rate`` Hz (cached). Never returns silence."""
    return (await synthesize_words(text, rate, use_espeak=use_espeak)).pcm


def _remember(key: tuple[str, int, bool], speech: Speech) -> None:
    """Cache ``speech``, dropping the least recently used phrases beyond the limits."""
    _CACHE[key] = speech
    total = sum(len(v.pcm) for v in _CACHE.values())
    while len(_CACHE) > 1 and (len(_CACHE) > _CACHE_LIMIT or total > _CACHE_BYTES):
        _, dropped = _CACHE.popitem(last=False)
        total -= len(dropped.pcm)


def cache_size() -> tuple[int, int]:
    """(phrases, PCM bytes) held by the speech cache."""
    return len(_CACHE), sum(len(v.pcm) for v in _CACHE.values())
