"""A private PulseAudio server with two null sinks, for real-device tests and benchmarks.

``start_pulse(mode, base)`` starts ``pulseaudio`` in the foreground (we own its pid) with a
unique runtime directory and two null sinks: ``speaker`` (default sink: what the app
plays) and ``mic`` (its monitor is the default source: what the app records). ``mode`` is
how clients reach it: ``runtime-dir`` (through ``XDG_RUNTIME_DIR``, like a local desktop
session) or ``socket-path`` (only by ``PULSE_SERVER=unix:/path``, like a laptop's socket
forwarded over ``ssh -R``); both let any client in. ``laptop`` is a desktop session's
server as it is: found through ``XDG_RUNTIME_DIR``, asking for the cookie in
``$HOME/.config/pulse/cookie`` (``HOME`` is ``base``). ``PulseServer.env`` is the
environment for its clients.

An idle null sink renders in 2 s blocks: the first client to record its monitor waits up
to 2 s for data, and PortAudio's ALSA ``pulse`` device spins a core all that while (an
input stream's start cost 1.9-2.0 s of CPU). So each sink's monitor is kept recorded at a
low latency from the start (``KEEPER``: 8 kHz, 8 bits, to nowhere), and ``start_pulse``
returns once both have data: a stream opened then gets its first block in ~80 ms, at no
CPU cost. The keepers' own first data would wait out the 2 s block the sink was in when
they connected (the sink re-times its renders only when the block ends), so once they are
connected each sink is suspended and resumed, which starts its next block at the keepers'
latency: a server is ready ~0.2 s after it answers instead of ~2 s (measured 2.01 -> 0.19 s).

No pytest here: the fixtures in ``conftest.py`` turn :class:`PulseUnavailable` into a
skip, and ``benchmarks/glitch.py`` into its skip reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tests.helpers import stop_process
from voicelive_tui.audio import devices, portaudio

__all__ = ["PulseServer", "PulseUnavailable", "missing_tool", "pulse_env", "start_pulse"]

READY_TIMEOUT_S = 15.0
KEEPER = ("parec", "--latency-msec=20", "--rate=8000", "--channels=1", "--format=u8", "--raw")
"""What keeps a null sink's monitor at a low latency (see the module docstring)."""


@dataclass
class PulseServer:
    """A running private PulseAudio server."""

    mode: str
    env: dict[str, str]
    """Environment for clients (paplay, parec, pactl) to reach this server."""
    process: subprocess.Popen[bytes]
    runtime: Path
    keepers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """The low-latency recorders of the sinks' monitors (see the module docstring)."""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a Pulse client command against this server."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=20, check=True
        )

    def popen(self, *args: str, stdout: object = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """Start a Pulse client command (paplay, parec) against this server."""
        return subprocess.Popen(list(args), env=self.env, stdout=stdout)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the server (by our own pid) and wait for it, and its keepers."""
        stop_process(self.process)
        for keeper in self.keepers:
            stop_process(keeper)

    def keep_low_latency(self, *sinks: str) -> None:
        """Record the ``sinks``' monitors at a low latency from now on, and return once
        each has data (the sinks restarted at that latency: see the module docstring)."""
        outs = []
        for sink in sinks:
            out = self.runtime / f"keeper-{sink}.raw"
            with out.open("wb") as sink_file:
                self.keepers.append(
                    subprocess.Popen(
                        [*KEEPER, f"--device={sink}.monitor"],
                        env=self.env,
                        stdout=sink_file,
                        stderr=subprocess.DEVNULL,
                    )
                )
            outs.append(out)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self._recorders() < len(self.keepers):
            if time.monotonic() > deadline or any(k.poll() is not None for k in self.keepers):
                raise PulseUnavailable("a null sink's monitor could not be recorded within 15 s")
            time.sleep(0.02)  # polling readiness, not synchronising a test
        for sink in sinks:
            self.run("pactl", "suspend-sink", sink, "1")
            self.run("pactl", "suspend-sink", sink, "0")
        while any(out.stat().st_size == 0 for out in outs):
            if time.monotonic() > deadline or any(k.poll() is not None for k in self.keepers):
                raise PulseUnavailable("a null sink's monitor gave no data within 15 s")
            time.sleep(0.02)  # polling readiness, not synchronising a test

    def _recorders(self) -> int:
        """Recording streams connected to this server."""
        listed = self.run("pactl", "list", "short", "source-outputs").stdout
        return len(listed.splitlines())


class PulseUnavailable(Exception):
    """PulseAudio cannot run here; the message says why."""


def missing_tool() -> str | None:
    """Why no server can start here (a client tool is not installed), or None."""
    for tool in ("pulseaudio", "pactl", "paplay", "parec"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install pulseaudio pulseaudio-utils)"
    return None


@contextmanager
def private_pulse(mode: str, prefix: str) -> Iterator[PulseServer]:
    """A server for ``mode`` in a short-lived folder of its own (a short path: the socket's
    must fit a Unix socket address, 108 bytes, and ssh's -R); skips the test where none
    can start."""
    import pytest

    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        try:
            server = start_pulse(mode, base)
        except PulseUnavailable as exc:
            pytest.skip(str(exc))
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def start_pulse(mode: str, base: Path) -> PulseServer:
    """Start a server for ``mode`` under ``base``; PulseUnavailable if it cannot start."""
    reason = missing_tool()
    if reason:
        raise PulseUnavailable(reason)
    server_runtime = Path(tempfile.mkdtemp(prefix="server-", dir=base))
    (server_runtime / "pulse").mkdir(parents=True)
    socket = base / "forwarded.sock"
    server_env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(server_runtime),
        "PULSE_RUNTIME_PATH": str(server_runtime / "pulse"),
        "HOME": str(base),
        # The cookie goes to $XDG_CONFIG_HOME/pulse when that is set (the suite sets it for
        # the app's preferences): keep it under HOME, where the README's recipe reads it.
        "XDG_CONFIG_HOME": str(base / ".config"),
    }
    server_env.pop("PULSE_SERVER", None)
    native = "module-native-protocol-unix" + ("" if mode == "laptop" else " auth-anonymous=1")
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
    if mode == "laptop":
        client_env["HOME"] = str(base)  # where the server wrote its cookie
        client_env["XDG_CONFIG_HOME"] = str(base / ".config")
    server = PulseServer(mode, client_env, process, server_runtime)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise PulseUnavailable(f"PulseAudio could not start: {err.strip()[-300:]}")
        try:
            server.run("pactl", "info")
            break
        except subprocess.SubprocessError:
            if time.monotonic() > deadline:
                server.stop()
                raise PulseUnavailable("PulseAudio did not answer within 15 s") from None
            time.sleep(0.1)  # polling readiness, not synchronising a test
    server.run("pactl", "set-default-sink", "speaker")
    server.run("pactl", "set-default-source", "mic.monitor")
    try:
        server.keep_low_latency("mic", "speaker")
    except PulseUnavailable:
        server.stop()
        raise
    return server


_ENV_KEYS = ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH", "PULSE_SINK", "PULSE_SOURCE")


@contextmanager
def pulse_env(server: PulseServer) -> Iterator[None]:
    """Point this process (and its PortAudio, rescanned) at ``server``; restore afterwards.
    OSError when PortAudio is not installed."""
    import sounddevice as sd

    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    try:
        for key in _ENV_KEYS:
            os.environ.pop(key, None)
        os.environ.update({k: v for k, v in server.env.items() if k in _ENV_KEYS})
        _rescan(sd)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with suppress(portaudio.PortAudioStuck):  # stuck for good: nothing to rescan
            _rescan(sd)


def _rescan(sd: ModuleType) -> None:
    """Re-initialise PortAudio on its own thread, after what it is doing (a backend's lost
    streams' abort): never beside another PortAudio call."""
    portaudio.THREAD.run(devices.rescan, sd, timeout=portaudio.CALL_S)
