"""Backends without a sound card: WAV files (``--input-wav``/``--output-wav``) and none.

:class:`WavBackend` behaves like a device on one clock: a loop task ticks every block
(``block_ms`` of audio, ``speed`` times faster than real time if asked). Each tick takes
the next block of the input WAV as the microphone (then silence forever) and plays one
block out of a :class:`~voicelive_tui.audio.ring.PlaybackRing` into the output WAV, so
epochs, barge-in, ``played_ms`` and "first sample played" work exactly as with a device.
Everything runs on the loop thread; there is no real-time thread to protect.

:class:`NullBackend` is text-only mode: no capture, playback dropped, with a ``notice``
saying why and how to get audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .base import SAMPLE_RATE, SILENCE_DB, AudioBackend, AudioError, AudioListener, ms_to_samples
from .capture import CaptureQueue
from .playback import RingBackend, pcm_to_samples
from .recorder import open_private_wav
from .resample import load_wav_mono


class NullBackend(AudioBackend):
    """No audio at all: capture yields nothing, playback is dropped."""

    kind = "none"

    def __init__(self, notice: str = "") -> None:
        super().__init__()
        self.notice = notice
        self._capture = CaptureQueue()

    def describe(self) -> str:
        return "no audio (text only)"

    async def start(self, loop: asyncio.AbstractEventLoop, listener: AudioListener) -> None:
        self._capture.reopen()

    async def stop(self) -> None:
        self._capture.close()

    def capture(self) -> AsyncIterator[bytes]:
        return self._capture.blocks()

    def play(self, item_id: str, pcm: bytes) -> None:
        pass

    def barge_in(self) -> None:
        self.epoch += 1

    def played_ms(self, item_id: str) -> int:
        return 0


class WavBackend(RingBackend):
    """WAV file in as the microphone, WAV file out as the speaker, paced in real time."""

    kind = "wav"

    def __init__(
        self,
        input_wav: str | Path | None = None,
        output_wav: str | Path | None = None,
        *,
        block_ms: float = 20.0,
        speed: float = 1.0,
        record: str | Path | None = None,
        ring_seconds: float = 300.0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.block = max(1, ms_to_samples(block_ms))
        super().__init__(ring_seconds=ring_seconds, meter_block=self.block, record=record)
        self.input_wav = Path(input_wav) if input_wav else None
        self.output_wav = Path(output_wav) if output_wav else None
        self.speed = speed
        self._input = np.zeros(0, np.int16)
        self._input_pos = 0
        self._mic_block = np.zeros(self.block, np.int16)
        self._out_block = np.zeros(self.block, np.int16)
        self._out_file: wave.Wave_write | None = None
        self._out_raw: BinaryIO | None = None
        self._task: asyncio.Task[None] | None = None
        self.blocks_ticked = 0
        """Blocks of audio time elapsed since start (both directions share this clock)."""
        self.input_done = asyncio.Event()
        """Set once the whole input WAV has been delivered as microphone audio."""

    @property
    def has_input(self) -> bool:
        return self.input_wav is not None

    @property
    def has_output(self) -> bool:
        return self.output_wav is not None

    def describe(self) -> str:
        src = self.input_wav.name if self.input_wav else "no mic"
        dst = self.output_wav.name if self.output_wav else "nowhere"
        speed = f" x{self.speed:g}" if self.speed != 1 else ""
        return f"WAV: {src} -> {dst}{speed}"

    async def start(self, loop: asyncio.AbstractEventLoop, listener: AudioListener) -> None:
        if self._task is not None:
            return
        self._listener = listener
        if self.input_wav is not None:
            self._input = load_wav_mono(self.input_wav)
        else:
            self.input_done.set()
        try:
            if self.output_wav is not None:
                self._out_raw = open_private_wav(self.output_wav)
                self._out_file = wave.open(self._out_raw, "wb")
                self._out_file.setnchannels(1)
                self._out_file.setsampwidth(2)
                self._out_file.setframerate(SAMPLE_RATE)
        except OSError as exc:
            raise AudioError(f"cannot write WAV: {exc}") from exc
        self._open_recorder()
        self._capture.reopen()
        self._task = loop.create_task(self._run(), name="wav-audio-clock")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._capture.close()
        if self._out_file is not None:
            self._out_file.close()  # a Wave_write never closes a file it was given
            self._out_file = None
        if self._out_raw is not None:
            self._out_raw.close()
            self._out_raw = None
        self._close_recorder()
        self.levels[:] = SILENCE_DB

    def feed(self, pcm: bytes) -> None:
        """Append PCM16 mono speech at SAMPLE_RATE to the microphone, after what is unsent."""
        samples = pcm_to_samples(pcm)
        self._input = np.concatenate((self._input[self._input_pos :], samples))
        self._input_pos = 0
        self.input_done.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.block / SAMPLE_RATE / self.speed
        t0 = loop.time()
        ticks = 0
        while True:
            self._tick()
            ticks += 1
            delay = t0 + ticks * period - loop.time()
            if delay < -1.0:  # the loop stalled for a second: do not replay it in a burst
                t0, ticks, delay = loop.time(), 0, 0.0
            await asyncio.sleep(max(0.0, delay))

    def _tick(self) -> None:
        mic = self._mic_block
        n = min(self.block, self._input.size - self._input_pos)
        if n > 0:
            mic[:n] = self._input[self._input_pos : self._input_pos + n]
            self._input_pos += n
        mic[max(n, 0) :] = 0
        if self._input_pos >= self._input.size and not self.input_done.is_set():
            self.input_done.set()
        if self.has_input:
            if self.metering:
                self._mic_meter.measure(mic)
            if not self.muted:
                self._capture.push(mic.tobytes())
        out = self._out_block
        self.ring.read_into(out)
        if self.metering:
            self._speaker_meter.measure(out)
        if self._out_file is not None:
            self._out_file.writeframes(out.tobytes())
        if self._recorder is not None:
            self._recorder.add_mic(mic if self.has_input and not self.muted else mic * 0)
            self._recorder.add_speaker(out)
        self.blocks_ticked += 1
        self._report_started()
