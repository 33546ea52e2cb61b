"""The real-time side of :class:`~voicelive_tui.audio.engine.SoundDeviceBackend`.

These methods run on PortAudio's callback thread. Rules:

* no buffer allocation in steady state: only copies between preallocated numpy arrays
  (the rings, the level scratch) through views, and integer counters;
* no locks, no logging, no I/O, nothing raised;
* one hand-off to asyncio, :meth:`RealtimeCallbacks._wake`: ``loop.call_soon_threadsafe(
  self._on_wake)``, scheduled at most once until the loop has run it (``_wake_pending``).
  The input callback wakes after writing the capture ring; the output callback wakes only
  when an item played its first sample.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from .levels import LevelMeter
from .ring import PlaybackRing, SampleRing


class RealtimeCallbacks:
    """Mixin: the PortAudio callbacks and the single wake-up of the loop."""

    ring: PlaybackRing
    input_overflows: int
    output_underflows: int
    _calls: int
    _capture_ring: SampleRing
    _monitor: SampleRing | None
    _mic_meter: LevelMeter
    _speaker_meter: LevelMeter
    _wake_pending: bool
    _loop: asyncio.AbstractEventLoop | None
    _out_delay: float

    def _on_wake(self) -> None:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    def _input_callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        self._calls += 1
        if status.input_overflow:
            self.input_overflows += 1
        mono = indata[:, 0]
        self._mic_meter.measure(mono)
        self._capture_ring.write(mono)
        self._wake()

    def _output_callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        self._calls += 1
        if status.output_underflow:
            self.output_underflows += 1
        mono = outdata[:, 0]
        ring = self.ring
        # How long until this block sounds (what the device still holds before it), so
        # "played" means heard; PortAudio's own figure when the host gives one.
        delay = time.outputBufferDacTime - time.currentTime
        ring.output_delay = delay if 0.0 < delay < 5.0 else self._out_delay
        ring.read_into(mono)
        self._speaker_meter.measure(mono)
        monitor = self._monitor
        if monitor is not None:
            monitor.write(mono)
        if ring.started_pending:
            self._wake()

    def _duplex_callback(
        self, indata: np.ndarray, outdata: np.ndarray, frames: int, time: Any, status: Any
    ) -> None:
        self._input_callback(indata, frames, time, status)
        self._output_callback(outdata, frames, time, status)

    def _wake(self) -> None:
        """The one hand-off to asyncio (see the module docstring)."""
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._on_wake)  # type: ignore[union-attr]
        except RuntimeError:  # loop closed while the stream still ran
            pass
