"""Fixtures of the SSH tests: a throwaway sshd on 127.0.0.1 (``sshd.py``) and tmux panes
(``tmux.py``). Both skip with the reason where they cannot run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import stop_process

from .sshd import SshServer, SshUnavailable, start_sshd
from .tmux import Pane, missing_tmux


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except SshUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def laptop_env(sshd: SshServer) -> dict[str, str]:
    """The environment of the user's own machine: ``ssh remote-host`` reaches the sshd."""
    return {"PATH": f"{sshd.bin_dir}:{os.environ['PATH']}", "TERM": "xterm-256color"}


@pytest.fixture
def pane(tmp_path: Path, laptop_env: dict[str, str]) -> Iterator[Callable[..., Pane]]:
    """``pane(command, size=(160, 48), env={...})``: a tmux pane on the laptop side."""
    reason = missing_tmux()
    if reason:
        pytest.skip(reason)
    panes: list[Pane] = []

    def start(
        command: str, size: tuple[int, int] = (160, 48), env: dict[str, str] | None = None
    ) -> Pane:
        where = tmp_path / f"tmux-{len(panes)}"
        where.mkdir()
        made = Pane(command, size=size, env={**laptop_env, **(env or {})}, where=where)
        panes.append(made)
        return made

    yield start
    for made in panes:
        made.close()


EMULATOR_KEY = "ssh-test-key"


@pytest.fixture
def emulator_endpoint() -> Iterator[Callable[..., str]]:
    """``emulator_endpoint("long-reply=60")``: a ``voicelive-emulator`` process on a free
    loopback port with those faults; its endpoint (key ``EMULATOR_KEY``)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*faults: str) -> str:
        argv = [sys.executable, "-m", "voicelive_tui.emulator", "--port", "0"]
        argv += ["--api-key", EMULATOR_KEY]
        for fault in faults:
            argv += ["--fault", fault]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"listening on (\S+)", line)
            if found:
                threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
                return found.group(1)
        raise AssertionError("the emulator did not start")

    yield start
    for proc in procs:
        stop_process(proc)
