"""The sounddevice backend's housekeeping on the loop, four times a second.

It drains for the recorder, releases items whose deltas ended, grows the jitter buffer
after an item starved and the output buffer after the device starved, and calls a stream
that stopped or went quiet a lost device. :class:`Housekeeping` is the base of
:class:`~voicelive_tui.audio.engine.SoundDeviceBackend`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .callbacks import RealtimeCallbacks
from .playback import RingBackend
from .streams import DeviceStreams

__all__ = ["Housekeeping"]

STALL_S = 3.0
"""A running stream without a callback for this long counts as a lost device."""
MAX_OUTPUT_LATENCY_S = 0.8
"""The output buffer doubles after the device starved (between items), up to this."""
MAX_PREBUFFER_MS = 640
RELEASE_AFTER_S = 0.1
"""Deltas stop for this long: the item's audio has all arrived and may start below the
jitter buffer's level."""


class Housekeeping(RingBackend):
    """The loop side's periodic work of :class:`~.engine.SoundDeviceBackend`."""

    callbacks: RealtimeCallbacks
    _streams: DeviceStreams
    full_duplex: bool
    output_latency: float
    _out_index: int
    _tail_item: str | None
    _last_play: float
    _calls_seen: int
    _stall_since: float
    _underruns_seen: int
    _underflows_seen: int
    _drain: Callable[[], None]
    _fault: Callable[[str], None]
    _flush_resampler_tail: Callable[[], None]
    _open_stream: Callable[[str, Any, str | float], None]

    def _grow_prebuffer(self) -> None:
        """After an item starved (its audio came late), keep more in hand before playing."""
        if self.ring.underruns == self._underruns_seen:
            return
        self._underruns_seen = self.ring.underruns
        rate = self.ring.rate
        grown = max(2 * self.ring.prebuffer, rate * 40 // 1000)
        self.ring.prebuffer = min(grown, rate * MAX_PREBUFFER_MS // 1000)

    def _grow_output_latency(self) -> None:
        """After the device starved (callbacks came too late), reopen the output stream
        with twice the buffer -- between items, when nothing queued can be lost."""
        underflows = self.callbacks.output_underflows
        if underflows == self._underflows_seen or self.faulted:
            return
        if self.full_duplex or self.output_latency >= MAX_OUTPUT_LATENCY_S:
            self._underflows_seen = underflows
            return
        if self.ring.pending_samples() or self.ring.device_queued() or not self.has_output:
            return
        self._underflows_seen = underflows
        self.output_latency = min(2 * self.output_latency, MAX_OUTPUT_LATENCY_S)
        self._streams.drop_output()
        try:
            self._open_stream("output", self._out_index, self.output_latency)
            self._streams.output.start()
        except Exception as exc:  # AudioError, or a device that vanished meanwhile
            self._streams.closing = False
            self._fault(f"audio output could not reopen: {exc}")
            return
        self._streams.closing = False

    async def _housekeep(self) -> None:
        """Drain for the recorder, release ended items, watch the streams, 4 times a second."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            self._drain()
            if loop.time() - self._last_play > RELEASE_AFTER_S:
                if self._tail_item is not None:
                    self._flush_resampler_tail()  # the item's deltas seem to have ended
                self.ring.release()
            self._grow_prebuffer()
            self._grow_output_latency()
            if self._recorder is not None:
                self._recorder.flush()
            if self.faulted or not self._streams.all:
                continue
            if any(not s.active for s in self._streams.all):
                self._fault("audio stream stopped (device lost?)")
            elif self.callbacks.calls != self._calls_seen:
                self._calls_seen = self.callbacks.calls
                self._stall_since = loop.time()
            elif loop.time() - self._stall_since > STALL_S:
                self._fault(f"no audio callback for {STALL_S:g} s (device lost?)")
