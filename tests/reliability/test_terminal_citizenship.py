"""The dashboard as a terminal citizen (issue 18), in a real terminal (tmux) started from
a shell as a user starts it: ``2>errors.txt`` still shows the dashboard on the terminal,
and a background job (``timeout 3 voicelive-tui`` from a script, ``voicelive-tui &``)
ends on SIGTERM or SIGHUP instead of stopping for ever."""

from __future__ import annotations

import os
import re
import shlex
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CLI, REPO
from tests.ssh.tmux import Pane, missing_tmux

pytestmark = pytest.mark.skipif(missing_tmux() is not None, reason=str(missing_tmux()))

ENV = {"PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
SIZE = (120, 36)
QUIT_TIMEOUT_S = 20.0
"""An end is waited for, not timed: a job stuck stopped never ends (the defect), while a
loaded machine's exit only takes longer."""
TIMEOUT_S = 3


def command(*args: str) -> str:
    return shlex.join([*CLI, "--demo", "--no-audio", "--log-dir", "logs", *args])


@pytest.fixture
def panes(tmp_path: Path) -> Iterator[list[Pane]]:
    opened: list[Pane] = []
    yield opened
    for pane in opened:
        pane.close()


def start(panes: list[Pane], where: Path, line: str) -> Pane:
    pane = Pane(f"cd {shlex.quote(str(where))} && {line}", size=SIZE, env=ENV, where=where)
    panes.append(pane)
    return pane


def state(pid: int) -> str:
    """The process's state letter (``T``: stopped), '' once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


def wait_state(pid: int, wanted: set[str], timeout: float, what: str) -> float:
    """Seconds until ``pid`` is in one of ``wanted``; fails after ``timeout``."""
    started = time.monotonic()
    while state(pid) not in wanted:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what} (state {state(pid)!r})")
        time.sleep(0.02)  # polling /proc, not synchronising
    return time.monotonic() - started


def test_stderr_to_a_file_still_shows_the_dashboard_on_the_terminal(
    panes: list[Pane], tmp_path: Path
) -> None:
    pane = start(panes, tmp_path, f"{command()} 2>errors.txt")
    pane.wait_for("ready", timeout=30)
    assert pane.alternate_screen()
    pane.keys("q")
    screen = pane.wait_for("EXIT=0", timeout=10)
    assert "the dashboard draws on standard output; diagnostics go to standard error" in screen
    assert str(tmp_path / "errors.txt") in screen.replace("\n", "")
    errors = (tmp_path / "errors.txt").read_bytes()
    assert b"\x1b[?1049h" not in errors, errors[:200]  # no dashboard in the file
    assert b"Conversation" not in errors


# Slow step: it waits out `timeout 3`; the background job's TERM and HUP stay fast.
@pytest.mark.slow
def test_timeout_ends_a_background_dashboard(panes: list[Pane], tmp_path: Path) -> None:
    """``timeout`` runs the command in a process group of its own: a background job
    whose first terminal set-up stops it; then SIGTERM and SIGCONT."""
    pane = start(panes, tmp_path, f"timeout {TIMEOUT_S} {command()}")
    screen = pane.wait_for("EXIT=", timeout=TIMEOUT_S + QUIT_TIMEOUT_S)
    assert "EXIT=124" in screen  # timed out, and the dashboard then ended


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_background_job_ends_on_term_or_hup(
    panes: list[Pane], tmp_path: Path, sig: signal.Signals
) -> None:
    # As an interactive shell runs a job: job control on, SIGTTOU and SIGTTIN not ignored
    # (tmux's shell inherits them ignored), so a background job that sets up the terminal
    # is stopped.
    job = f"env --default-signal=TTOU,TTIN {command()}"
    # The shell stays (a job whose shell left would be orphaned, and the kernel would
    # hang it up); `wait` returns at a stop, so the status is fetched once the job is gone.
    script = (
        f"set -m; {job} & p=$!; echo PID=$p; "
        "while kill -0 $p 2>/dev/null; do sleep 0.05; done; wait $p; echo CODE=$?"
    )
    pane = start(panes, tmp_path, f"bash -c {shlex.quote(script)}")
    found = re.search(r"PID=(\d+)", pane.wait_for("PID=", timeout=10))
    assert found is not None
    pid = int(found.group(1))
    try:
        wait_state(pid, {"T"}, 20.0, "the background job to stop (job control)")
        os.kill(pid, sig)
        os.kill(pid, signal.SIGCONT)  # as timeout, bash's kill and a hang-up do
        wait_state(pid, {"", "Z"}, QUIT_TIMEOUT_S, "the job to end")
    finally:
        if state(pid) not in ("", "Z"):
            os.kill(pid, signal.SIGKILL)  # stuck stopped: the defect this test is about
    screen = pane.wait_for("CODE=", timeout=5)
    assert "CODE=0" in screen
