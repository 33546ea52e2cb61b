"""A private PulseAudio server with null sinks, so the real PortAudio path can be tested.

The ``pulse`` fixture starts ``pulseaudio`` in the foreground (we own its pid) with a
unique runtime directory and two null sinks: ``speaker`` (default sink: what the app
plays) and ``mic`` (its monitor is the default source: what the app records). It is
parametrised two ways, the two ways a user reaches a server:

* ``runtime-dir`` -- found through ``XDG_RUNTIME_DIR`` like a local desktop session;
* ``socket-path`` -- reached only by ``PULSE_SERVER=unix:/path`` and no runtime dir, like a
  laptop's socket forwarded over ``ssh -R``.

The test process's environment is switched to the server and PortAudio rescanned;
everything is restored afterwards. Skips (with the reason) only when the server cannot
start here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from voicelive_tui.audio import devices

READY_TIMEOUT_S = 15.0


@dataclass
class PulseServer:
    """A running private PulseAudio server."""

    mode: str
    env: dict[str, str]
    """Environment for clients (paplay, parec, pactl) to reach this server."""
    process: subprocess.Popen[bytes]
    runtime: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a Pulse client command against this server."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=20, check=True
        )

    def popen(self, *args: str, stdout: object = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """Start a Pulse client command (paplay, parec) against this server."""
        return subprocess.Popen(list(args), env=self.env, stdout=stdout)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the server (by our own pid) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_pulse(mode: str, base: Path) -> PulseServer:
    """Start a server for ``mode`` under ``base``; pytest.skip if it cannot start."""
    for tool in ("pulseaudio", "pactl", "paplay", "parec"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install pulseaudio pulseaudio-utils)")
    server_runtime = Path(tempfile.mkdtemp(prefix="server-", dir=base))
    (server_runtime / "pulse").mkdir(parents=True)
    socket = base / "forwarded.sock"
    server_env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(server_runtime),
        "PULSE_RUNTIME_PATH": str(server_runtime / "pulse"),
        "HOME": str(base),
    }
    server_env.pop("PULSE_SERVER", None)
    native = "module-native-protocol-unix auth-anonymous=1"
    if mode == "socket-path":
        native += f" socket={socket}"
    process = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            "--use-pid-file=no",
            "--disallow-exit",
            "--load=module-null-sink sink_name=speaker",
            "--load=module-null-sink sink_name=mic",
            f"--load={native}",
        ],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client_env = dict(os.environ)
    for key in ("PULSE_SERVER", "PULSE_RUNTIME_PATH"):
        client_env.pop(key, None)
    if mode == "socket-path":
        client_env["PULSE_SERVER"] = f"unix:{socket}"
        client_env["XDG_RUNTIME_DIR"] = str(base / "client-empty")  # no default socket
        (base / "client-empty").mkdir(exist_ok=True)
    else:
        client_env["XDG_RUNTIME_DIR"] = str(server_runtime)
        client_env["PULSE_RUNTIME_PATH"] = str(server_runtime / "pulse")
    server = PulseServer(mode, client_env, process, server_runtime)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.skip(f"PulseAudio could not start: {err.strip()[-300:]}")
        try:
            server.run("pactl", "info")
            break
        except subprocess.SubprocessError:
            if time.monotonic() > deadline:
                server.stop()
                pytest.skip("PulseAudio did not answer within 15 s")
            time.sleep(0.1)  # polling the server's readiness, not synchronising a test
    server.run("pactl", "set-default-sink", "speaker")
    server.run("pactl", "set-default-source", "mic.monitor")
    return server


_ENV_KEYS = ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH")


@contextmanager
def use_server(server: PulseServer) -> Iterator[None]:
    """Point this process (and its PortAudio) at ``server``; restore afterwards."""
    sd = pytest.importorskip("sounddevice", exc_type=OSError)
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    try:
        for key in _ENV_KEYS:
            os.environ.pop(key, None)
        os.environ.update({k: v for k, v in server.env.items() if k in _ENV_KEYS})
        devices.rescan(sd)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        devices.rescan(sd)


@pytest.fixture(scope="module", params=["runtime-dir", "socket-path"])
def pulse(request: pytest.FixtureRequest) -> Iterator[PulseServer]:
    """A private PulseAudio server; this process's PortAudio talks to it while in use."""
    pytest.importorskip("sounddevice", exc_type=OSError)
    base = Path(tempfile.mkdtemp(prefix="vltui-pulse-"))
    server = start_pulse(request.param, base)
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
        server = start_pulse(mode, self.base)
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
