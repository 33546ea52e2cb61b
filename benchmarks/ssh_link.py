"""Bytes per second over a real SSH connection: the dashboard as a remote user runs it.

The conversation of the footprint section (``--demo --no-greeting --input-wav`` with one
long sentence: the agent answers and plays the sentence back, then the WAV microphone
sends silence, then ``m`` mutes), but started as ``ssh -t remote-host voicelive-tui ...``
against a throwaway sshd on 127.0.0.1 (``tests/ssh/sshd.py``), in a 160x48 pseudo-terminal
on the "laptop" side. Figures per phase:

- *terminal*: what the ssh client writes to the laptop's terminal;
- *wire*: what crossed the TCP connection towards the laptop (``ss`` ``bytes_received``
  of the client's socket): the terminal bytes plus SSH's framing, MACs and padding;
- *baseline*: the same conversation run locally on a pseudo-terminal (no SSH), same run.

Goals (issue 11): below 5 kB/s quiet and 30 kB/s talking, on the wire, at 160x48.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from common import (
    Mode,
    Section,
    child_env,
    goal,
    launch,
    median,
    ratio,
    speech_wav,
    spread,
    workdir,
)
from footprint import AFTER_REPLY_S, ANSWER_LEAD_S, READY, TALK_MARGIN_S
from term import PtyProcess

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.ssh.sshd import HOST_ALIAS, SshServer, SshUnavailable, start_sshd  # noqa: E402

SIZE = (160, 48)
WINDOWS = 3
GOALS = {"talking": 30.0, "quiet, mic live": 5.0, "muted": 5.0}  # kB/s on the wire


def wire_bytes(server: SshServer) -> int:
    """Bytes the laptop side received on its SSH connections to ``server``."""
    out = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( dport = :{server.port} )"],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout  # fmt: skip
    return sum(int(n) for n in re.findall(r"bytes_received:(\d+)", out))


class Windows:
    """kB/s per phase: terminal and wire."""

    def __init__(self) -> None:
        self.terminal: dict[str, list[float]] = {}
        self.wire: dict[str, list[float]] = {}

    def measure(self, proc: PtyProcess, server: SshServer | None, phase: str, s: float) -> None:
        for _ in range(WINDOWS):
            t0, out0 = time.monotonic(), proc.bytes_out
            wire0 = wire_bytes(server) if server else 0
            time.sleep(s / WINDOWS)
            elapsed = time.monotonic() - t0
            self.terminal.setdefault(phase, []).append((proc.bytes_out - out0) / 1024 / elapsed)
            if server:
                wire = (wire_bytes(server) - wire0) / 1024 / elapsed
                self.wire.setdefault(phase, []).append(wire)


def conversation(proc: PtyProcess, mode: Mode, windows: Windows, server: SshServer | None) -> None:
    wav_s = mode.speech_s
    ready = proc.wait_for(READY["dashboard"], 40)
    if ready is None:
        raise RuntimeError("the dashboard did not get ready in 40 s")
    ready_at = proc.started + ready
    time.sleep(max(0.0, ready_at + wav_s + ANSWER_LEAD_S + TALK_MARGIN_S - time.monotonic()))
    windows.measure(proc, server, "talking", mode.phase_s)
    if not mode.quick:  # quick: the talking phase only
        rest_of_the_conversation(proc, mode, windows, server, ready_at, wav_s)
    proc.write(b"q")
    deadline = time.monotonic() + 10
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def rest_of_the_conversation(
    proc: PtyProcess,
    mode: Mode,
    windows: Windows,
    server: SshServer | None,
    ready_at: float,
    wav_s: float,
) -> None:
    """After the talking phase: quiet with the microphone live, then muted."""
    reply_end = ready_at + wav_s + ANSWER_LEAD_S + 3.75 + wav_s
    time.sleep(max(0.0, reply_end + AFTER_REPLY_S - time.monotonic()))
    windows.measure(proc, server, "quiet, mic live", mode.phase_s)
    proc.write(b"m")
    time.sleep(1.0)
    windows.measure(proc, server, "muted", mode.phase_s)


def run(mode: Mode) -> Section:
    section = Section(
        "ssh_link",
        "Over SSH: bytes per second to the laptop at 160x48, local pty as baseline",
        ["phase", "local terminal kB/s (baseline)", "over SSH: terminal kB/s", "wire kB/s",
         "wire / local", "goal (wire)"],
    )  # fmt: skip
    local, remote = Windows(), Windows()
    with workdir() as where:
        try:
            server = start_sshd(where / "sshd")
        except SshUnavailable as exc:
            section.notes.append(f"Skipped: {exc}")
            return section
        try:
            wav_s = mode.speech_s
            for run_no in range(mode.footprint_runs):
                wav = speech_wav(where / "speech.wav", wav_s)
                args = ["--demo", "--no-greeting", "--input-wav", str(wav)]
                with launch(args, where, *SIZE) as proc:
                    conversation(proc, mode, local, None)
                logs = server.remote_home / f"bench-logs-{run_no}"
                remote_cmd = " ".join(["voicelive-tui", *args, "--log-dir", str(logs)])
                argv = [*server.ssh("-t", HOST_ALIAS, remote_cmd)]
                # The laptop's terminal as the local run's; sshd passes TERM on, not COLORTERM,
                # so the far side draws in 256 colours as it does for most SSH users.
                with PtyProcess(
                    argv, cols=SIZE[0], rows=SIZE[1], env=child_env(), cwd=where
                ) as proc:
                    conversation(proc, mode, remote, server)
        finally:
            server.stop()
    for phase, limit in GOALS.items():
        base, wire = local.terminal.get(phase, []), remote.wire.get(phase, [])
        section.rows.append(
            [
                phase,
                spread(base, "{:.2f}"),
                spread(remote.terminal.get(phase, []), "{:.2f}"),
                spread(wire, "{:.2f}"),
                ratio(median(wire), median(base)),
                goal(median(wire), limit, " kB/s"),
            ]
        )
    section.notes.append(
        f"`ssh -t remote-host voicelive-tui --demo --no-greeting --input-wav <{wav_s:g} s "
        f"sentence>` against a loopback sshd (OpenSSH defaults: chacha20-poly1305, no "
        f"compression), {mode.footprint_runs} run(s), each phase {mode.phase_s:g} s in "
        f"{WINDOWS} windows (min / median / max). "
        "Wire bytes include SSH framing and keep-alives; the local baseline is the same "
        "conversation on a local pseudo-terminal in the same run, in truecolour "
        "(COLORTERM=truecolor); sshd passes TERM on but not COLORTERM, so over SSH the app "
        "draws in 256 colours, with shorter escape sequences."
    )
    return section
