"""Private PulseAudio servers (``pulse.py``), so the real PortAudio path can be tested.

The ``pulse`` fixture starts a server with two null sinks, ``speaker`` and ``mic``, reached
one of the two ways a user reaches a server:

* ``runtime-dir`` (the default) -- found through ``XDG_RUNTIME_DIR`` like a local desktop
  session;
* ``socket-path`` -- reached only by ``PULSE_SERVER=unix:/path`` and no runtime dir, like a
  laptop's socket forwarded over ``ssh -R``.

Tests where the way matters (finding and opening the devices) run both ways:
``@pytest.mark.parametrize("pulse", PULSE_MODES, indirect=True)``.

The test process's environment is switched to the server and PortAudio rescanned;
everything is restored afterwards. Skips (with the reason) only when the server cannot
start here.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import RecordingListener
from voicelive_tui.audio import portaudio
from voicelive_tui.audio.engine import SoundDeviceBackend

from .pulse import PulseServer, PulseUnavailable, pulse_env, start_pulse


def _start(mode: str, base: Path) -> PulseServer:
    try:
        return start_pulse(mode, base)
    except PulseUnavailable as exc:
        pytest.skip(str(exc))


@contextmanager
def use_server(server: PulseServer) -> Iterator[None]:
    """Point this process (and its PortAudio) at ``server``; restore afterwards. Skips
    when this process's PortAudio is stuck for good (an earlier test's server died under
    it: libpulse deadlocked, or PortAudio#1037; that test failed), as nothing can use it."""
    pytest.importorskip("sounddevice", exc_type=OSError)
    if portaudio.THREAD.stuck:
        pytest.skip(f"PortAudio is stuck in this process ({portaudio.THREAD.stuck})")
    with pulse_env(server):
        yield


PULSE_MODES = ["runtime-dir", "socket-path"]


@pytest.fixture(scope="module")
def pulse(request: pytest.FixtureRequest) -> Iterator[PulseServer]:
    """A private PulseAudio server (``runtime-dir`` unless the test parametrises the mode);
    this process's PortAudio talks to it while in use."""
    pytest.importorskip("sounddevice", exc_type=OSError)
    base = Path(tempfile.mkdtemp(prefix="vltui-pulse-"))
    server = _start(getattr(request, "param", "runtime-dir"), base)
    try:
        with use_server(server):
            yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class PulseLab:
    """Servers a test starts and stops itself (e.g. to lose and regain the device)."""

    base: Path
    servers: list[PulseServer]

    def start(self, mode: str = "socket-path") -> PulseServer:
        """Start a server; socket-path servers all share one socket path."""
        server = _start(mode, self.base)
        self.servers.append(server)
        return server

    use = staticmethod(use_server)


@pytest.fixture
def pulse_lab() -> Iterator[PulseLab]:
    """A :class:`PulseLab`; every server it started is stopped afterwards."""
    pytest.importorskip("sounddevice", exc_type=OSError)
    lab = PulseLab(Path(tempfile.mkdtemp(prefix="vltui-pulse-")), [])
    try:
        yield lab
    finally:
        for server in lab.servers:
            server.stop()
        shutil.rmtree(lab.base, ignore_errors=True)


@pytest.fixture
async def backend_factory():
    """Start SoundDeviceBackends on the ``pulse`` devices; all stopped afterwards."""
    made: list[SoundDeviceBackend] = []

    async def make(
        echo_reference: bool = False, **kwargs
    ) -> tuple[SoundDeviceBackend, RecordingListener]:
        backend = SoundDeviceBackend("pulse", "pulse", **kwargs)
        backend.echo_reference = echo_reference
        listener = RecordingListener()
        await backend.start(asyncio.get_running_loop(), listener)
        made.append(backend)
        return backend, listener

    yield make
    for backend in made:
        await backend.stop()


@pytest.fixture
def second_sink(pulse):
    """A second null sink, ``speakerB``, for the time of one test."""
    module = pulse.run("pactl", "load-module", "module-null-sink", "sink_name=speakerB").stdout
    yield "speakerB"
    pulse.run("pactl", "unload-module", module.strip())
