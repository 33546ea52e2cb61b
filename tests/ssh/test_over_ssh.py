"""The dashboard over a real SSH connection (issue 11): ``ssh -t remote-host voicelive-tui``
from a tmux pane, against a throwaway sshd on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.harness import received_types

from .conftest import EMULATOR_KEY
from .sshd import SshServer
from .tmux import Pane


def test_the_dashboard_works_over_ssh_and_gives_the_terminal_back(
    sshd: SshServer, pane: Callable[..., Pane]
) -> None:
    term = pane("ssh -t remote-host voicelive-tui --demo --log-dir keys-logs")
    term.wait_for("Hello!", 40)  # the greeting, over the link
    term.keys("m")
    term.wait_for("mic MUTED")  # muted: the scripted user's voice is not sent
    term.keys("t")
    term.wait_for("message to the agent")
    term.type("Please tell me a long story about the sea")
    term.keys("Enter")
    term.wait_for("You said:", 20)  # the agent is answering
    term.keys("Space")
    term.wait_for("(interrupted at", 10)
    term.keys("m")
    term.wait_gone("mic MUTED")
    term.keys("?")
    term.wait_for("╭─ Help ─")  # the box's title: toasts never cover it
    term.keys("Escape")
    term.wait_gone("╭─ Help ─")
    term.keys("q")
    screen = term.wait_for("EXIT=0", 15)
    assert not term.alternate_screen(), screen
    conversation = next(sshd.remote_home.glob("keys-logs/*_conversation.log")).read_text()
    assert "User Input:\tPlease tell me a long story about the sea" in conversation


def remote_app_pid(marker: str) -> int:
    """The remote ``voicelive-tui`` started with ``marker`` in its arguments (not the
    ssh client that carries the same command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if (
            comm != "ssh"
            and marker.encode() in cmdline
            and any(arg.endswith(b"voicelive-tui") for arg in cmdline)
        ):
            return int(entry.name)
    raise AssertionError(f"no remote voicelive-tui with {marker!r}")


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit status may wait long for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check``; how long it took. Fails after ``timeout`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def remote_command(endpoint: str, name: str) -> str:
    """``ssh -t`` to the dashboard against ``endpoint``, its reply audio into a WAV file."""
    return (
        f"ssh -t remote-host voicelive-tui --endpoint {endpoint} --api-key {EMULATOR_KEY}"
        f" --log-dir {name}-logs --output-wav {name}.wav"
    )


def test_a_killed_ssh_client_ends_the_remote_app_with_the_reply_logged(
    sshd: SshServer, pane: Callable[..., Pane], emulator_endpoint: Callable[..., str]
) -> None:
    endpoint = emulator_endpoint("long-reply=30")
    term = pane(remote_command(endpoint, "kill"))
    log_dir = sshd.remote_home / "kill-logs"
    wait_until(
        lambda: "response.audio_transcript.delta" in received_types(log_dir), 40, "the reply"
    )
    assert "response.done" not in received_types(log_dir)
    app = remote_app_pid("kill-logs")
    [client] = term.children("ssh")
    os.kill(client, signal.SIGKILL)  # the laptop's lid closes: the link is gone
    # Waited for, not timed (a loaded machine's exit takes what it takes): well before the
    # 30 s reply could end, and the reply is logged as cut, not finished.
    wait_until(lambda: not running(app), 20.0, "the remote app to end")
    conversation = next(log_dir.glob("*_conversation.log")).read_text()
    agent = [line for line in conversation.splitlines() if line.startswith("Agent ")]
    assert len(agent) == 1 and agent[0].endswith("[interrupted: quit]"), conversation


BYTES_PER_S = 48_000
"""The reply WAV: 24 kHz, 16-bit, mono."""
STALL_S = 40.0
"""As the issue asks. At today's output rate (about 20 kB/s while the agent talks) the
link's buffers (sshd's 2 MB channel window, loopback TCP's send buffer) take all of a
40 s stall, so here the terminal never pushes back: the pty test in
``tests/reliability/test_stalled_terminal.py`` is the one where it does, and fails
without the frame-dropping writer."""


@pytest.mark.slow
def test_a_stalled_link_does_not_stall_the_session(
    sshd: SshServer, pane: Callable[..., Pane], emulator_endpoint: Callable[..., str]
) -> None:
    endpoint = emulator_endpoint("long-reply=90")
    term = pane(remote_command(endpoint, "stall"))
    log_dir, wav = sshd.remote_home / "stall-logs", sshd.remote_home / "stall.wav"
    wait_until(lambda: wav.exists() and wav.stat().st_size > BYTES_PER_S, 40, "reply audio")
    [client] = term.children("ssh")
    events = next(log_dir.glob("*_events.jsonl"))
    os.kill(client, signal.SIGSTOP)  # a stalled link: nothing is read from the far side
    try:
        start = time.monotonic()
        audio_before, events_before = wav.stat().st_size, events.stat().st_size
        time.sleep(STALL_S)  # the stall itself: what runs meanwhile is measured
        audio_grew = wav.stat().st_size - audio_before
        events_grew = events.stat().st_size - events_before
        stalled = time.monotonic() - start
    finally:
        os.kill(client, signal.SIGCONT)
    term.wait_for("Speaker", 20)
    term.keys("q")
    term.wait_for("EXIT=0", 20)
    assert audio_grew / BYTES_PER_S > 0.9 * stalled, (audio_grew / BYTES_PER_S, stalled)
    assert events_grew > 0
