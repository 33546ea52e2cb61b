"""PortAudio on one thread of its own: when the sound server dies, the abort of a lost
stream can block for ever (libpulse deadlocked under it). The event loop that shows the
fault, takes keys and talks to the service must go on; no two PortAudio calls may run at
once (PortAudio is not thread-safe: a device query or a re-initialisation beside an abort
made the deadlock likelier); and when PortAudio answers again the devices come back.

PortAudio itself is the edge here: a stand-in ``sounddevice`` module whose streams' abort
blocks until the test lets it go (at most ``HARNESS_S``: on the code before, that abort ran
on the loop, and this bound is how those tests fail instead of hanging), and which records
how many of its calls ever ran at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import RecordingListener, wait_until
from voicelive_tui.audio import devices, portaudio
from voicelive_tui.audio.base import AudioError
from voicelive_tui.audio.engine import SoundDeviceBackend

HARNESS_S = 8.0
"""The longest a stand-in abort blocks (the test's own bound on the code before)."""


class StandInPortAudio:
    """What the stand-in module's calls share: how many run at once, the aborts' gate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = 0
        self.most = 0
        """The most calls ever inside PortAudio at once (1: serialised)."""
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.aborting = threading.Event()
        """An abort has begun (and waits at the gate)."""
        self.abort_threads: list[str] = []
        self.streams: list[StandInStream] = []

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        with self._lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.002)  # a real call's own time: room for another to overlap
            yield
        finally:
            with self._lock:
                self.inside -= 1

    def module(self) -> types.ModuleType:
        """The stand-in ``sounddevice`` module."""
        pa = self
        sd = types.ModuleType("standin_sounddevice")
        listed = [
            {
                "index": 0,
                "name": "standin",
                "hostapi": 0,
                "max_input_channels": 1,
                "max_output_channels": 1,
                "default_samplerate": 24000.0,
            }
        ]

        def query_devices(index: int | None = None) -> Any:
            with pa.call():
                return listed if index is None else listed[index]

        def query_hostapis() -> Any:
            with pa.call():
                return [{"name": "ALSA"}]

        def check_settings(**_kwargs: Any) -> None:
            with pa.call():
                pass

        def lifecycle() -> None:
            with pa.call():
                pass

        def stream(**kwargs: Any) -> StandInStream:
            with pa.call():
                made = StandInStream(pa, kwargs["finished_callback"])
                pa.streams.append(made)
                return made

        sd.query_devices = query_devices  # type: ignore[attr-defined]
        sd.query_hostapis = query_hostapis  # type: ignore[attr-defined]
        sd.check_input_settings = check_settings  # type: ignore[attr-defined]
        sd.check_output_settings = check_settings  # type: ignore[attr-defined]
        sd._terminate = lifecycle  # type: ignore[attr-defined]
        sd._initialize = lifecycle  # type: ignore[attr-defined]
        for name in portaudio.SerialisedModule.STREAMS:
            setattr(sd, name, stream)
        sd.default = types.SimpleNamespace(device=(0, 0))  # type: ignore[attr-defined]
        return sd


class StandInStream:
    """A PortAudio stream: its abort waits at the gate (the deadlock, while it is shut)."""

    def __init__(self, pa: StandInPortAudio, finished: Any) -> None:
        self.pa = pa
        self.finished = finished
        self.running = False
        self.closed = False

    @property
    def latency(self) -> float:
        with self.pa.call():
            return 0.02

    @property
    def active(self) -> bool:
        with self.pa.call():
            return self.running

    def start(self) -> None:
        with self.pa.call():
            self.running = True

    def abort(self) -> None:
        with self.pa.call():
            self.pa.abort_threads.append(threading.current_thread().name)
            self.pa.aborting.set()
            self.pa.gate.wait(HARNESS_S)
            self.running = False

    def close(self) -> None:
        with self.pa.call():
            self.closed = True

    def server_died(self) -> None:
        """PortAudio ends the stream on its own thread (its finished callback)."""
        self.running = False
        threading.Thread(target=self.finished, daemon=True).start()


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInPortAudio]:
    pa = StandInPortAudio()
    sd = pa.module()
    monkeypatch.setattr(devices, "load_sounddevice", lambda: sd)
    monkeypatch.setattr(devices, "audio_server", lambda env=None: "stand-in")
    monkeypatch.setattr(portaudio, "BLOCKING_S", 0.5)  # stuck after half a second
    try:
        yield pa
    finally:
        pa.gate.set()  # never leave the process's PortAudio thread stuck
        portaudio.THREAD.run(lambda: None, timeout=HARNESS_S)


class Heartbeat:
    """Ticks on the loop every 10 ms; the longest gap between two ticks."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now
            self.ticks += 1

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def test_the_loop_goes_on_while_a_lost_streams_abort_hangs(
    standin: StandInPortAudio,
) -> None:
    """The server dies; the lost streams' abort blocks. The fault is shown at once, the
    loop never stalls, a retry says PortAudio is stuck (within a bound), nothing runs
    beside the abort, and once PortAudio answers again the devices come back."""
    backend = SoundDeviceBackend()
    listener = RecordingListener()
    await backend.start(asyncio.get_running_loop(), listener)
    try:
        standin.gate.clear()  # from now on an abort blocks: the server is dying
        with Heartbeat() as beat:
            standin.streams[0].server_died()
            await wait_until(lambda: listener.faults, 5, "the fault shown")
            assert not backend.has_output and not backend.has_input
            await wait_until(standin.aborting.is_set, 5, "the abort under way")
            assert beat.longest < 1.0, f"the loop stalled {beat.longest:.1f} s"
            began = time.monotonic()
            with pytest.raises(AudioError, match="PortAudio is stuck"):
                await backend.reopen()  # r, while the abort hangs
            assert time.monotonic() - began < 3.0
            await wait_until(lambda: "PortAudio is stuck" in listener.faults[-1], 5)
            assert "PortAudio is stuck" in backend.describe()
            ticks = beat.ticks
            await wait_until(lambda: beat.ticks > ticks + 20, 5, "the loop ticking")
            assert beat.longest < 1.0, f"the loop stalled {beat.longest:.1f} s"
        assert standin.abort_threads and "MainThread" not in standin.abort_threads
        standin.gate.set()  # PortAudio answers again: the recovery opens the devices
        await wait_until(lambda: listener.restored, 10, "the devices back")
        assert backend.has_output and backend.has_input
        assert standin.most == 1, "two PortAudio calls ran at once"
    finally:
        standin.gate.set()
        await backend.stop()


async def test_no_portaudio_call_runs_beside_a_lost_streams_abort(
    standin: StandInPortAudio,
) -> None:
    """The device screen lists devices (on a thread of its own) while the server dies and
    the recovery re-initialises PortAudio: their calls wait for the slow abort; none runs
    beside it, or beside another."""
    backend = SoundDeviceBackend()
    listener = RecordingListener()
    await backend.start(asyncio.get_running_loop(), listener)
    listing = threading.Event()
    listed = [0]

    def device_screen() -> None:  # as the device screen's worker: off the loop
        while not listing.is_set():
            with contextlib.suppress(AudioError):
                backend.device_entries()
                listed[0] += 1

    screen = threading.Thread(target=device_screen, daemon=True)
    screen.start()
    try:
        await wait_until(lambda: listed[0] > 3, 5, "the device screen listing")
        standin.gate.clear()
        standin.streams[0].server_died()
        await wait_until(standin.aborting.is_set, 5, "the abort under way")
        calls = standin.calls
        # The abort is slow (0.3 s), not stuck: meanwhile the screen's queries and the
        # recovery's re-initialisation queue behind it.
        threading.Timer(0.3, standin.gate.set).start()
        await wait_until(lambda: listener.restored, 10, "the devices back")
        await wait_until(lambda: standin.calls > calls + 20, 5, "calls after the abort")
    finally:
        listing.set()
        screen.join(5)
        standin.gate.set()
        await backend.stop()
    assert standin.most == 1, "two PortAudio calls ran at once"


def test_a_stuck_call_is_bounded_and_refused_until_it_returns() -> None:
    thread = portaudio.PortAudioThread("portaudio-test")
    gate = threading.Event()
    try:
        thread.submit(gate.wait, HARNESS_S, bound=0.2, name="abort")
        began = time.monotonic()
        with pytest.raises(portaudio.PortAudioStuck, match="stuck in abort"):
            thread.run(lambda: "queried", timeout=5.0)  # waits only until the abort is overdue
        assert time.monotonic() - began < 2.0
        began = time.monotonic()
        with pytest.raises(portaudio.PortAudioStuck):
            thread.run(lambda: "queried")  # refused at once
        assert time.monotonic() - began < 0.1
        assert thread.stuck == "abort"
    finally:
        gate.set()
    answers = time.monotonic() + HARNESS_S
    while thread.stuck and time.monotonic() < answers:  # the abort returns
        time.sleep(0.01)
    assert thread.stuck == ""
    assert thread.run(lambda: "queried") == "queried"


def test_a_stream_opened_after_its_caller_gave_up_is_closed() -> None:
    thread = portaudio.PortAudioThread("portaudio-test")
    gate = threading.Event()
    closed = threading.Event()

    class Opened:
        def close(self) -> None:
            closed.set()

    def slow_open() -> Opened:
        gate.wait(HARNESS_S)
        return Opened()

    with pytest.raises(portaudio.PortAudioStuck):
        thread.run(slow_open, timeout=0.1, undo=lambda stream: stream.close())
    gate.set()
    assert closed.wait(HARNESS_S)


EXITS_STUCK = textwrap.dedent(
    """
    import logging, sys, threading, time, types
    from voicelive_tui.audio import portaudio
    from voicelive_tui.cli import exit_process

    logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
    sd = types.ModuleType("sounddevice_standin")
    terminated = []
    sd._exit_handler = lambda: terminated.append(1)  # sounddevice's Pa_Terminate at exit
    portaudio.serialised(sd)
    hang = threading.Event()
    portaudio.THREAD.submit(hang.wait, bound=0.1, name="the lost streams' abort")
    time.sleep(0.3)  # the abort is overdue: PortAudio is stuck for good
    logging.getLogger("conversation").info("the last line")
    print("exiting", flush=True)
    exit_process(3)
    """
)


def test_the_process_exits_at_once_when_portaudio_is_stuck(tmp_path: Any) -> None:
    """Terminating a stuck PortAudio would block for ever: the process exits without it,
    with its exit status and every log line written."""
    log = tmp_path / "technical.log"
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXITS_STUCK, str(log)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - began < 15
    assert done.stdout == "exiting\n"
    written = log.read_text()
    assert "the last line" in written
    assert "PortAudio is stuck" in written
