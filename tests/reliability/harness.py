"""Run the real ``voicelive-tui`` as a user does: a process, in a pipe or a pseudo-terminal.

Every wait is on a condition with a time-out (output seen, a file line written, the
process gone); nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import signal
import struct
import sys
import termios
from pathlib import Path

from tests.helpers import CLI, child_env, run_cli, wait_until
from tests.integration.session_helpers import TEST_KEY
from voicelive_tui.logs import per_event

ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
"""CSI, OSC and two-byte escape sequences."""
FAST_NET = ("--handshake-timeout", "0.3", "--heartbeat", "0.5", "--retry-max", "0.2")
"""Connection flags that keep the tests short (the defaults are 10, 10 and 30 s)."""


def client_args(endpoint: str, log_dir: Path, *extra: str) -> list[str]:
    return ["--endpoint", endpoint, "--api-key", TEST_KEY, "--log-dir", str(log_dir), *extra]


def read_logs(log_dir: Path) -> dict[str, str]:
    """Suffix (``conversation.log``...) -> text of the run's files in ``log_dir``."""
    out: dict[str, str] = {}
    for path in sorted(log_dir.glob("*_*")):
        suffix = path.name.rsplit("_", 1)[-1]
        out[suffix] = out.get(suffix, "") + path.read_text(encoding="utf-8")
    return out


def events(log_dir: Path) -> list[dict]:
    """The run's events.jsonl entries so far (a half-written last line is ignored)."""
    entries = []
    for path in log_dir.glob("*_events.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries += per_event(json.loads(line))
            except ValueError:
                pass
    return entries


def received_types(log_dir: Path) -> list[str]:
    return [
        e["event"]["type"]
        for e in events(log_dir)
        if e.get("direction") == "received" and "event" in e
    ]


async def reply_in_progress(log_dir: Path, timeout: float = 20.0) -> None:
    """The greeting is streaming: its transcript has started, the response is not done."""
    await wait_until(
        lambda: "response.audio_transcript.delta" in received_types(log_dir),
        timeout,
        "the greeting to start streaming",
    )
    assert "response.done" not in received_types(log_dir)


class Console:
    """``voicelive-tui --no-tui`` with stdout and stderr collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out = ""
        self.err = ""
        self._readers = [
            asyncio.ensure_future(self._pump(proc.stdout, "out")),
            asyncio.ensure_future(self._pump(proc.stderr, "err")),
        ]

    @classmethod
    async def start(cls, *argv: str, env: dict[str, str] | None = None) -> Console:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            "--no-tui",
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(env),
        )
        return cls(proc)

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        assert stream is not None
        while chunk := await stream.read(65536):
            setattr(self, name, getattr(self, name) + chunk.decode("utf-8", "replace"))

    async def wait_output(self, text: str, timeout: float = 15.0) -> None:
        await wait_until(lambda: text in self.out, timeout, f"{text!r} on stdout; got {self.out!r}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        """The exit status; fails (and kills) when the process outlives ``timeout``."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"still running after {timeout} s; stdout={self.out!r}") from None
        await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def run_console(*argv: str, timeout: float = 30.0, env=None) -> tuple[int, str, str]:
    """Run console mode to its end: (exit status, stdout, stderr)."""
    return await run_cli("--no-tui", *argv, timeout=timeout, env=env)


class Terminal:
    """``voicelive-tui`` (the dashboard) on a pseudo-terminal of ``size`` (columns, rows).

    ``screen`` is everything written to the terminal, escape sequences included, so a
    test can check the terminal was given back: alternate screen left, mouse reporting
    off, cursor shown.
    """

    def __init__(self, pid: int, master: int) -> None:
        self.pid = pid
        self.master = master
        self.output = bytearray()
        self.status: int | None = None
        self._closed = False
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    async def start(
        cls, *argv: str, size: tuple[int, int] = (100, 30), env: dict[str, str] | None = None
    ) -> Terminal:
        cols, rows = size
        pid, master = pty.fork()
        if pid == 0:  # the child: exec the app on the pty
            try:
                # Sized before the app starts: set from the parent, it raced the app's
                # start-up (a loaded machine read the pty's 0x0, drew at 80x24, and the
                # resize signal came before its handler).
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execve(
                    sys.executable,
                    [*CLI, *argv],
                    child_env({"TERM": "xterm-256color", **(env or {})}),
                )
            finally:
                os._exit(127)
        os.set_blocking(master, False)
        return cls(pid, master)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if data:
            self.output += data
        else:
            self._stop_reading()

    def pause_reading(self) -> None:
        """Stop reading the terminal, as a stalled SSH link does: the app's writes fill
        the pty buffer, then block."""
        asyncio.get_running_loop().remove_reader(self.master)

    def resume_reading(self) -> None:
        asyncio.get_running_loop().add_reader(self.master, self._read)

    def _stop_reading(self) -> None:
        if not self._closed:
            self._closed = True
            asyncio.get_running_loop().remove_reader(self.master)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    async def wait_output(self, text: str, timeout: float = 20.0) -> None:
        await wait_until(lambda: text in self.text, timeout, f"{text!r} on the terminal")

    @property
    def plain(self) -> str:
        """What was written, escape sequences (colours, cursor moves) removed: a line the
        app drew in pieces reads whole."""
        return ESCAPES.sub("", self.text)

    async def wait_plain(self, text: str, timeout: float = 20.0) -> None:
        await wait_until(lambda: text in self.plain, timeout, f"{text!r} on the terminal")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def hang_up(self) -> None:
        """Close the terminal, as an SSH disconnect does (the kernel sends SIGHUP)."""
        self._stop_reading()
        os.close(self.master)
        self.master = -1

    def _reap(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    async def wait(self, timeout: float) -> int:
        """Exit status (negative: killed by that signal); fails when still running."""
        try:
            await wait_until(self._reap, timeout, "the dashboard to exit")
        except AssertionError:
            self.kill()
            raise
        if self.master >= 0:  # what it wrote last (terminal restore) is read by now
            await wait_until(lambda: self._closed, 2.0, "the terminal to reach EOF")
        assert self.status is not None
        if os.WIFSIGNALED(self.status):
            return -os.WTERMSIG(self.status)
        return os.WEXITSTATUS(self.status)

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                _pid, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        if self.master >= 0:
            self._stop_reading()
            os.close(self.master)
            self.master = -1

    def restored(self) -> bool:
        """The terminal was given back: each mode the app switched on is off again."""
        out = bytes(self.output)
        pairs = [
            (b"\x1b[?1049h", b"\x1b[?1049l"),  # alternate screen
            (b"\x1b[?1000h", b"\x1b[?1000l"),  # mouse reporting
            (b"\x1b[?25l", b"\x1b[?25h"),  # cursor hidden / shown
        ]
        return all(out.rfind(off) > out.rfind(on) for on, off in pairs)
