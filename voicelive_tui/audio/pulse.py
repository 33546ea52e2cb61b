"""A forwarded PulseAudio server (``ssh -R`` of a laptop's socket), set up for the user.

A laptop's PulseAudio socket forwarded over SSH looks local to both ends, so libpulse
offers shared memory (memfd), which cannot cross the forward: ``pactl info`` fails with
"Expected 1 memfd fd to be received over pipe; got 0 ... Protocol error". And the server
may ask for its cookie, which lives on the laptop.

When ``PULSE_SERVER`` names a server other than this machine's own, :func:`prepare`
writes a private client configuration (no shared memory, no autospawn, the laptop's
cookie when one was saved) and points ``PULSE_CLIENTCONFIG`` at it, before PortAudio
starts. :func:`problem` says, in one line, why that server cannot be used and what to
run. :func:`save_cookie` stores the laptop's cookie, sent once over SSH::

    ssh remote-host voicelive-tui --save-pulse-cookie < ~/.config/pulse/cookie

The cookie's place is ``$XDG_CONFIG_HOME/voicelive-tui/pulse-cookie`` (by default
``~/.config/voicelive-tui/pulse-cookie``); ``PULSE_COOKIE`` overrides it.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from voicelive_tui.platform_support import connect_unix_socket, user_id

RECIPE = "README, 'Audio over SSH'"
FORWARD_HINT = (
    "on your laptop run: ssh -t -o StreamLocalBindUnlink=yes "
    "-R /tmp/pulse-$USER.sock:$XDG_RUNTIME_DIR/pulse/native "
    "remote-host PULSE_SERVER=unix:/tmp/pulse-$USER.sock voicelive-tui"
)
COOKIE_HINT = (
    "send your laptop's PulseAudio cookie once: "
    "ssh remote-host voicelive-tui --save-pulse-cookie < ~/.config/pulse/cookie"
)
COOKIE_BYTES = 256
"""A PulseAudio cookie is 256 random bytes."""


class PulseSetupError(Exception):
    """The forwarded server cannot be used; the message is one line for the user."""


def cookie_path(env: Mapping[str, str]) -> Path:
    """Where the laptop's cookie is kept on this machine."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "voicelive-tui" / "pulse-cookie"


def _local_sockets(env: Mapping[str, str]) -> set[str]:
    """This machine's own PulseAudio sockets (the server a desktop session runs)."""
    places = set()
    if env.get("PULSE_RUNTIME_PATH"):
        places.add(os.path.join(env["PULSE_RUNTIME_PATH"], "native"))
    if env.get("XDG_RUNTIME_DIR"):
        places.add(os.path.join(env["XDG_RUNTIME_DIR"], "pulse", "native"))
    uid = user_id()
    if uid is not None:
        places.add(f"/run/user/{uid}/pulse/native")
    return {os.path.realpath(p) for p in places}


def forwarded_server(env: Mapping[str, str]) -> str | None:
    """``PULSE_SERVER`` when it names a server that is not this machine's own, else None.

    ``unix:/path`` or a bare path other than the local socket is a forwarded socket;
    ``tcp:host`` (or ``host``) is a network server. Both need the set-up of :func:`prepare`.
    """
    server = env.get("PULSE_SERVER", "").strip()
    if not server:
        return None
    first = server.split()[0]  # PULSE_SERVER may list several; the first one is tried first
    path = first[len("unix:") :] if first.startswith("unix:") else first
    if path.startswith("/") and os.path.realpath(path) in _local_sockets(env):
        return None
    return first


def socket_path(server: str) -> str | None:
    """The Unix socket of ``server`` (``unix:/x`` or ``/x``), or None for a network server."""
    path = server[len("unix:") :] if server.startswith("unix:") else server
    return path if path.startswith("/") else None


def client_config(cookie: Path | None) -> str:
    """The libpulse client configuration for a forwarded server."""
    lines = [
        "# voicelive-tui: a PulseAudio server reached through a forwarded socket",
        "enable-shm = no",  # memfd/shm cannot cross ssh -R
        "enable-memfd = no",
        "autospawn = no",  # never start a server here instead
    ]
    if cookie is not None:
        lines.append(f"cookie-file = {cookie}")
    return "\n".join(lines) + "\n"


def prepare(env: MutableMapping[str, str]) -> str | None:
    """Set up libpulse for a forwarded ``PULSE_SERVER`` (see the module docstring).

    Changes ``env`` (the process environment, before PortAudio starts) and returns the
    server, or returns None and changes nothing when the server is this machine's own.
    """
    server = forwarded_server(env)
    if server is None or env.get("PULSE_CLIENTCONFIG"):
        return server  # the user's own client configuration wins
    cookie: Path | None = None
    if env.get("PULSE_COOKIE"):
        cookie = Path(env["PULSE_COOKIE"])
    elif cookie_path(env).is_file():
        cookie = cookie_path(env)
    folder = Path(tempfile.mkdtemp(prefix="voicelive-tui-pulse-"))
    atexit.register(shutil.rmtree, folder, True)
    conf = folder / "client.conf"
    conf.write_text(client_config(cookie))
    env["PULSE_CLIENTCONFIG"] = str(conf)
    return server


def problem(env: Mapping[str, str], server: str) -> str | None:
    """Why ``server`` cannot be used, as one line with what to run; None when it answers."""
    path = socket_path(server)
    if path is not None:
        reason = _socket_problem(path)
        if reason:
            return f"PulseAudio at {server} is not reachable: {reason}; {FORWARD_HINT}"
    if shutil.which("pactl") is None:
        return None  # the socket answers; pactl is not here to ask for more
    try:
        done = subprocess.run(
            ["pactl", "info"], capture_output=True, text=True, timeout=5, env=dict(env)
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"PulseAudio at {server} did not answer: {exc}"
    if done.returncode == 0:
        return None
    said = " ".join(done.stderr.split()) or f"pactl exited with {done.returncode}"
    if "access denied" in said.lower():
        return f"PulseAudio at {server} refused the connection (access denied): {COOKIE_HINT}"
    return f"PulseAudio at {server} is not usable: {said}; see the {RECIPE}"


def _socket_problem(path: str) -> str | None:
    if not os.path.exists(path):
        return f"no socket at {path} (is the ssh -R forward running?)"
    try:
        connect_unix_socket(path, timeout=3)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return f"{path}: {reason.lower()} (a stale socket from an earlier session?)"
    return None


def save_cookie(source: BinaryIO, env: Mapping[str, str]) -> Path:
    """Store the cookie read from ``source`` (the laptop's, piped over SSH); its path."""
    data = source.read(COOKIE_BYTES + 1)
    if len(data) != COOKIE_BYTES:
        raise PulseSetupError(
            f"a PulseAudio cookie is {COOKIE_BYTES} bytes, got {len(data)}"
            f"{' or more' if len(data) > COOKIE_BYTES else ''} on standard input; "
            "pipe the laptop's ~/.config/pulse/cookie into --save-pulse-cookie"
        )
    path = cookie_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)
    return path


CHOICE_VARIABLES = {"output": "PULSE_SINK", "input": "PULSE_SOURCE"}
"""libpulse's own variables: where a new stream that names no device goes."""


def direct(env: MutableMapping[str, str], kind: str, name: str | None) -> None:
    """Send streams opened from now on through PortAudio's ``pulse`` device to the sink
    (``kind`` output) or source (input) ``name``; None: to the server's default."""
    variable = CHOICE_VARIABLES[kind]
    if name:
        env[variable] = name
    else:
        env.pop(variable, None)


@dataclass(frozen=True)
class ServerDevice:
    """One sink or source of the PulseAudio (or PipeWire) server."""

    name: str
    description: str
    rate: int
    channels: int


@dataclass(frozen=True)
class ServerDevices:
    """The server's sinks and sources, and its defaults (empty when it cannot be asked)."""

    sinks: list[ServerDevice] = field(default_factory=list)
    sources: list[ServerDevice] = field(default_factory=list)
    default_sink: str = ""
    default_source: str = ""


def server_devices(env: Mapping[str, str]) -> ServerDevices:
    """Ask the server through ``pactl`` (JSON, PulseAudio 16 or PipeWire's pactl) what it
    has; PortAudio sees only its ``pulse`` and ``default`` devices. Blocking (three short
    ``pactl`` runs): call it from a thread."""
    info = _pactl_json(env, "info")
    sinks = _pactl_json(env, "list", "sinks")
    sources = _pactl_json(env, "list", "sources")
    if not isinstance(info, dict) or not isinstance(sinks, list) or not isinstance(sources, list):
        return ServerDevices()
    return ServerDevices(
        [_server_device(d) for d in sinks if isinstance(d, dict)],
        [_server_device(d) for d in sources if isinstance(d, dict)],
        str(info.get("default_sink_name", "")),
        str(info.get("default_source_name", "")),
    )


def server_names(env: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The names of the server's sinks and of its sources, in one short ``pactl`` run
    (None: no answer). Blocking: call it from a thread."""
    found = _pactl_json(env, "list", "short")
    if not isinstance(found, dict):
        return None
    return tuple(
        tuple(str(d.get("name", "")) for d in found.get(kind) or () if isinstance(d, dict))
        for kind in ("sinks", "sources")
    )  # type: ignore[return-value]


def _server_device(data: dict[str, object]) -> ServerDevice:
    spec = re.search(r"(\d+)ch (\d+)Hz", str(data.get("sample_specification", "")))
    return ServerDevice(
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        rate=int(spec.group(2)) if spec else 0,
        channels=int(spec.group(1)) if spec else 0,
    )


def _pactl_json(env: Mapping[str, str], *args: str) -> object:
    if shutil.which("pactl") is None:
        return None
    try:
        done = subprocess.run(
            ["pactl", "-f", "json", *args],
            capture_output=True,
            text=True,
            timeout=3,
            env=dict(env),
            check=False,
        )
        return json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
