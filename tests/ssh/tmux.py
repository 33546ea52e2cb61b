"""A terminal a person looks at: one tmux pane on a private tmux server.

The pane runs a shell command line (``sh -c``), so a program started from it (``ssh``) is
a child of the pane's shell: stopping that child simulates a stalled link, which tmux
would undo if the stopped process were the pane's own.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["Pane", "missing_tmux"]


def missing_tmux() -> str | None:
    return None if shutil.which("tmux") else "tmux not installed (apt-get install tmux)"


class Pane:
    """``tmux new-session -d -x W -y H`` running ``command`` with ``env`` additions."""

    def __init__(
        self, command: str, *, size: tuple[int, int], env: dict[str, str], where: Path
    ) -> None:
        self.socket = where / "tmux.sock"
        width, height = size
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._tmux(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
            f"export {exports}; {command}; echo EXIT=$?; exec sleep 3600",
        )  # fmt: skip

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return done.stdout

    def screen(self) -> str:
        """What the pane shows now."""
        return self._tmux("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        """Press keys (tmux key names: ``m``, ``Space``, ``Enter``, ``Escape``)."""
        self._tmux("send-keys", "-t", "main", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "main", "-l", text)

    def pipe(self, path: Path) -> None:
        """Copy everything the program writes to the pane, escapes and all, to ``path``."""
        self._tmux("pipe-pane", "-t", "main", "-o", f"cat >> {shlex.quote(str(path))}")

    def alternate_screen(self) -> bool:
        """True while the program in the pane holds the alternate screen."""
        return self._tmux("display", "-p", "-t", "main", "#{alternate_on}").strip() == "1"

    def shell_pid(self) -> int:
        return int(self._tmux("display", "-p", "-t", "main", "#{pane_pid}").strip())

    def children(self, name: str) -> list[int]:
        """Pids of the pane shell's children called ``name`` (e.g. the ssh client)."""
        done = subprocess.run(
            ["pgrep", "-P", str(self.shell_pid()), "-x", name],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return [int(p) for p in done.stdout.split()]

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Wait until ``text`` is on the screen; the screen then."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen within {timeout} s:\n{screen}")
            time.sleep(0.1)  # polling the screen, not synchronising

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text not in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on the screen after {timeout} s:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=20
        )
