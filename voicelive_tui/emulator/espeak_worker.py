"""espeak-ng's library, and the process that gives every phrase a fresh copy of it.

espeak-ng keeps state from one utterance to the next that its API cannot reset (1.51: the
phase of its pitch flutter, a static in ``wavegen.c`` that only ``espeak_Initialize``'s
first call sets; breathy voices' noise from libc's ``rand()``): the same text said after
different ones is different audio (lengths 0.2 % apart, samples far apart), and the
emulator's speech cache kept whichever came first. What a process had said before thus
changed the agent's voice in every later session of it, and the echo tests' result with
the order the tests ran in.

Run as a script (``python -I -S espeak_worker.py``, nothing of the package imported) by
:mod:`.speech` where ``os.fork`` exists: it loads and initialises the library once, then
forks a child for each phrase, which speaks it from the state just after initialisation
and exits. A fork of this small process costs about a millisecond.

Protocol (stdin/stdout, binary, little-endian): the process first writes ``ready`` and its
rate (int32), or ``error`` and nothing more. A request is the UTF-8 text's length (uint32)
and the text; its answer is the status (int32, 0 = spoken), the PCM16's byte count and the
number of word events (uint32 each), the PCM16, then per event its 1-based character
position and start sample (int32 each).
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
import threading
from typing import IO, Any

__all__ = ["HEAD", "Espeak", "read_exactly", "serve"]

HEAD = struct.Struct("<iII")
"""An answer's status, PCM16 bytes and events."""


class Espeak:
    """espeak-ng's library in synchronous mode: audio and word events in one call."""

    AUDIO_OUTPUT_SYNCHRONOUS = 2
    POS_CHARACTER = 1
    CHARS_UTF8 = 1
    EVENT_WORD = 1

    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("s", ctypes.c_char * 8)]

    class _Event(ctypes.Structure):
        pass

    _Event._fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]
    _Callback = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
    )

    def __init__(self) -> None:
        lib = ctypes.CDLL("libespeak-ng.so.1")
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.rate = lib.espeak_Initialize(self.AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
        if self.rate <= 0 or lib.espeak_SetVoiceByName(b"en-us") != 0:
            raise OSError("espeak-ng could not be initialised")
        self._lib = lib
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int]] = []
        self._callback = self._Callback(self._on_synth)  # kept alive while the library is
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav: Any, samples: int, events: Any) -> int:
        if wav and samples > 0:
            self._chunks.append(ctypes.string_at(wav, samples * 2))
        i = 0
        while events[i].type != 0:
            if events[i].type == self.EVENT_WORD:
                self._events.append((events[i].text_position, events[i].sample))
            i += 1
        return 0

    def speak(self, text: str) -> tuple[bytes, list[tuple[int, int]]]:
        """(PCM16 at :attr:`rate`, [(1-based character position, start sample)] per word)."""
        data = text.encode("utf-8")
        with self._lock:
            self._chunks, self._events = [], []
            status = self._lib.espeak_Synth(
                data, len(data) + 1, 0, self.POS_CHARACTER, 0, self.CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            pcm, events = b"".join(self._chunks), self._events
            self._chunks, self._events = [], []
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed ({status})")
        return pcm, events


def read_exactly(stream: IO[bytes], n: int) -> bytes:
    """``n`` bytes of ``stream`` (fewer only at its end)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _answer(engine: Espeak, text: str) -> bytes:
    try:
        pcm, events = engine.speak(text)
    except (RuntimeError, OSError):
        return HEAD.pack(1, 0, 0)
    flat = [value for event in events for value in event]
    return HEAD.pack(0, len(pcm), len(events)) + pcm + struct.pack(f"<{len(flat)}i", *flat)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer requests until ``stdin`` ends, each phrase in a fresh fork of the library."""
    try:
        engine = Espeak()
    except (OSError, AttributeError):
        stdout.write(b"error")
        stdout.flush()
        return
    stdout.write(b"ready" + struct.pack("<i", engine.rate))
    stdout.flush()
    while True:
        head = read_exactly(stdin, 4)
        if len(head) < 4:
            return
        text = read_exactly(stdin, struct.unpack("<I", head)[0]).decode("utf-8", "replace")
        pid = os.fork()  # type: ignore[attr-defined,unused-ignore]  # POSIX only
        if pid == 0:  # the child: the library as initialised, one phrase, then gone
            status = 0
            try:
                _write_all(stdout.fileno(), _answer(engine, text))
            except OSError:
                status = 1
            os._exit(status)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
