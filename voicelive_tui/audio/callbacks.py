"""The real-time side of :class:`~voicelive_tui.audio.engine.SoundDeviceBackend`.

:class:`RealtimeCallbacks` runs on PortAudio's callback thread. Rules:

* no buffer allocation in steady state: only copies between the preallocated numpy arrays
  it was bound to (the rings, the level scratch) through views, and integer counters;
  PortAudio's own buffer (a raw stream's, one channel of int16) is viewed as samples with
  ``np.frombuffer`` (a view: no copy);
* no locks, no logging, no I/O, nothing raised;
* one hand-off to asyncio, :meth:`RealtimeCallbacks.wake`: ``loop.call_soon_threadsafe(
  on_wake)``, scheduled at most once until the loop has run it (``wake_pending``, which
  ``on_wake`` clears). The input callback wakes after writing the capture ring; the output
  callback wakes only when an item played its first sample.

With the echo reference (:mod:`.reference`), the output callback also writes each block
it hands the device, with its DAC time, into the reference history, and the input callback
copies the reference for its block (by its ADC time) into the reference ring, before the
microphone's samples: the same rules hold (preallocated arrays, views, integers).

The backend rebinds it with :meth:`bind` only while no stream runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from .levels import LevelMeter
from .reference import ReferenceHistory, ReferenceReader
from .ring import PlaybackRing, SampleRing

ADC_SLACK_S = 0.05
"""An ADC time this much older than the input's latency is not believed (see ``input``)..."""
ADC_SETTLE_S = 3.0
"""... in the input stream's first seconds only: later, a block that old is one whose
callback ran late (a busy machine), and its samples are that old."""
SPIN_GAP_BLOCKS = 0.5
"""Output callbacks closer together than this many blocks' time, flagged as under-run, in a
stream's first ``SPIN_WINDOW_S``: the device is taking blocks faster than it plays them
(see ``output``)."""
SPIN_WINDOW_S = 1.0
SPIN_HOLD_S = 3.0
"""A spin that began in the window is held until the device keeps time, or this long
after the start (one that never does loses the audio either way)."""
OUTPUT_RESTART_GAP_S = 0.5
"""No output callback for this long: the stream was (re)started."""
METER_EVERY_S = 0.035
"""With ``metering`` on, a block is measured once this long passed since the last one
measured: every other 20 ms block (25 a second), still more often than the dashboard reads
the levels (20 a second). A meter costs about 100 us of CPU a block with cold caches."""


class RealtimeCallbacks:
    """The PortAudio callbacks, their buffers and counters, and the wake-up of the loop."""

    def __init__(
        self,
        on_wake: Callable[[], None],
        *,
        ring: PlaybackRing,
        capture_ring: SampleRing,
        mic_meter: LevelMeter,
        speaker_meter: LevelMeter,
    ) -> None:
        self.on_wake = on_wake
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ring = ring
        self.capture_ring = capture_ring
        self.monitor: SampleRing | None = None
        self.mic_meter = mic_meter
        self.speaker_meter = speaker_meter
        self.out_delay = 0.0
        """The output stream's reported latency: the fallback when a callback has none."""
        self.in_delay = 0.0
        """The input stream's reported latency: the fallback when a callback has none."""
        self.history: ReferenceHistory | None = None
        """With a client echo reference: what the output callback handed the device, timed."""
        self.reference: ReferenceReader | None = None
        self.adc_doubted = 0
        """Input blocks whose ADC time was not believed (see ``input``)."""
        self.input_since = -1.0
        """PortAudio time of the input stream's first callback (-1: none yet)."""
        self.reference_ring: SampleRing | None = None
        """The reference beside each microphone block (output rate), for the loop."""
        self.metering = False
        """Measure the levels (see ``AudioBackend.metering``)."""
        self._mic_metered = float("-inf")
        self._speaker_metered = float("-inf")
        """PortAudio times of the last blocks measured (see :data:`METER_EVERY_S`)."""
        self.calls = 0
        self.input_overflows = 0
        self.output_underflows = 0
        self.output_spins = 0
        """Output blocks held back from a device that spun after a start (see ``output``)."""
        self._out_prev = float("-inf")
        self._out_started = 0.0
        """PortAudio time of the output stream's first callback since it (re)started."""
        self._out_unsteady = False
        self.wake_pending = False

    def bind(
        self,
        *,
        ring: PlaybackRing,
        capture_ring: SampleRing,
        monitor: SampleRing | None,
        mic_meter: LevelMeter,
        speaker_meter: LevelMeter,
    ) -> None:
        """Use these buffers from now on (only while no stream runs)."""
        self.ring = ring
        self.capture_ring = capture_ring
        self.monitor = monitor
        self.mic_meter = mic_meter
        self.speaker_meter = speaker_meter
        self.input_since = -1.0

    def input(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        """A block from the microphone: ``indata``, PortAudio's buffer of one channel of
        int16 samples (a raw stream's, or an array of them)."""
        self.calls += 1
        if status.input_overflow:
            self.input_overflows += 1
        mono = np.frombuffer(indata, np.int16)
        if self.metering and not 0.0 <= time.currentTime - self._mic_metered < METER_EVERY_S:
            self._mic_metered = time.currentTime  # (a clock that went back: measure now)
            self.mic_meter.measure(mono)
        reader, ref_ring = self.reference, self.reference_ring
        if reader is not None and ref_ring is not None:
            # When the first sample was captured: PortAudio's figure, unless it has none
            # or, in the stream's first seconds, claims a backlog the stream does not hold
            # (PulseAudio's: the samples delivered are fresh), then one block before now,
            # as PulseAudio's own figure says once it settles. (Not now minus the stream's
            # latency: measured on a loopback, that laid the reference 15-25 ms off for
            # the first second, until it was laid anew in a silence.) Later an old ADC
            # time is a late callback's, and true: doubted, it laid the reference hundreds
            # of milliseconds ahead of the echo on a busy machine. The reference is
            # written before the microphone, so the loop never finds a microphone block
            # without its reference.
            adc = time.inputBufferAdcTime
            now = time.currentTime
            if self.input_since < 0.0:
                self.input_since = now
            settling = now - self.input_since < ADC_SETTLE_S
            if adc <= 0.0 or (settling and now - adc > self.in_delay + ADC_SLACK_S):
                adc = now - frames / reader.in_rate
                self.adc_doubted += 1
            ref_ring.write(reader.next_block(frames, adc))
        self.capture_ring.write(mono)
        self.wake()

    def output(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        """A block for the speaker, written into ``outdata`` (as ``indata`` above)."""
        self.calls += 1
        mono = np.frombuffer(outdata, np.int16)
        # A stream started again (after an idle pause, a reopen) may spin for a few hundred
        # ms before it runs at the device's pace: PulseAudio's ALSA plugin, with a loopback
        # reading the speaker's monitor, called it a thousand times in 250 ms, each block
        # flagged as under-run, and what it took there never sounded (a whole second of
        # audio was lost, and the echo reference laid none of it): in threes, the first of
        # each 1-4 ms after the last, with unflagged blocks between that did not sound
        # either (taking those, or the ones 2-4 ms apart, lost 170-840 ms of a 1 s reply).
        # From its first such block the stream is unsteady: every block gets silence and
        # the ring keeps its audio until a callback comes at the device's pace again.
        now = time.currentTime
        gap = now - self._out_prev
        self._out_prev = now
        if gap > OUTPUT_RESTART_GAP_S:
            self._out_started = now
        paced = gap >= SPIN_GAP_BLOCKS * frames / self.ring.rate
        running = now - self._out_started
        if (paced and not status.output_underflow) or running >= SPIN_HOLD_S:
            self._out_unsteady = False
        elif status.output_underflow and not paced and running < SPIN_WINDOW_S:
            self._out_unsteady = True
        if self._out_unsteady:
            self.output_spins += 1
            mono.fill(0)
            return
        if status.output_underflow:
            self.output_underflows += 1
        ring = self.ring
        # How long until this block sounds (what the device still holds before it), so
        # "played" means heard; PortAudio's own figure when the host gives one (0 for the
        # first block of a stream just started: it sounds at once).
        dac = time.outputBufferDacTime
        delay = dac - time.currentTime
        ring.output_delay = delay if dac > 0.0 and 0.0 <= delay < 5.0 else self.out_delay
        sounding = ring.read_into(mono) > 0
        history = self.history
        if history is not None:
            history.write(
                mono, dac if dac > 0.0 else time.currentTime + ring.output_delay, sounding
            )
        if self.metering and not 0.0 <= now - self._speaker_metered < METER_EVERY_S:
            self._speaker_metered = now
            self.speaker_meter.measure(mono)
        monitor = self.monitor
        if monitor is not None:
            monitor.write(mono)
        if ring.started_pending:
            self.wake()

    def duplex(self, indata: Any, outdata: Any, frames: int, time: Any, status: Any) -> None:
        self.input(indata, frames, time, status)
        self.output(outdata, frames, time, status)

    def wake(self) -> None:
        """The one hand-off to asyncio (see the module docstring)."""
        if self.wake_pending or self.loop is None:
            return
        self.wake_pending = True
        try:
            self.loop.call_soon_threadsafe(self.on_wake)
        except RuntimeError:  # loop closed while the stream still ran
            pass
