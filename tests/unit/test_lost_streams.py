"""A lost device's streams are closed off the event loop: with the sound server gone,
PortAudio's abort can block (for ever, when libpulse deadlocks), and the loop that shows
the fault, takes keys and talks to the service must go on."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from tests.helpers import wait_until
from voicelive_tui.audio.base import SAMPLE_RATE
from voicelive_tui.audio.engine import SoundDeviceBackend
from voicelive_tui.audio.streams import DeviceStreams


class StuckStream:
    """A PortAudio stream whose abort blocks until released (the edge we cannot reach)."""

    latency = 0.02

    def __init__(self, **_kwargs: Any) -> None:
        self.aborted_on: threading.Thread | None = None
        self.release = threading.Event()
        self.closed = False

    def start(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted_on = threading.current_thread()
        self.release.wait(2.0)

    def close(self) -> None:
        self.closed = True


async def test_a_lost_devices_streams_are_closed_off_the_loop() -> None:
    made: list[StuckStream] = []

    def stream(**kwargs: Any) -> StuckStream:
        made.append(StuckStream(**kwargs))
        return made[-1]

    sd = SimpleNamespace(InputStream=stream, OutputStream=stream, Stream=None)
    backend = SoundDeviceBackend(block_ms=20, output_latency=0.2)
    backend._sd = sd
    backend._streams = DeviceStreams(sd, backend._finished_callback)
    backend._setup_rates(SAMPLE_RATE, SAMPLE_RATE)
    backend._open_stream("input", 0, "low")
    backend._open_stream("output", 0, backend.output_latency)
    backend._streams.start()
    backend._loop = asyncio.get_running_loop()
    try:
        backend._fault("audio stream ended (device lost?)")
        assert backend.faulted and not backend.has_input and not backend.has_output
        await wait_until(lambda: made[0].aborted_on is not None, 5.0)
        lost = backend._lost_streams
        assert lost is not None and not lost.done()  # still aborting: the loop went on
        for s in made:
            s.release.set()
        await asyncio.wait_for(lost, 5.0)
        assert all(s.closed and s.aborted_on is not threading.main_thread() for s in made)
    finally:
        for s in made:
            s.release.set()
        if backend._recovery is not None:
            backend._recovery.cancel()
