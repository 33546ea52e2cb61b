"""A program in a pseudo-terminal, watched from outside as a user's machine sees it.

:class:`PtyProcess` starts a command on a pty of a given size, reads everything it writes
(counting the bytes, as an SSH link would carry them), answers the few terminal queries
a real terminal answers, and can wait for a marker text to appear on screen after a
given moment. CPU time and RSS come from ``/proc/PID``.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Escape sequences: CSI, OSC, and two-byte escapes. Cursor moves are dropped like the
# rest: Textual writes a line as several pieces ("chops", cut at widget edges), each
# after its own cursor move, so a sentence on screen is only contiguous without them.
_CURSOR = re.compile(rb"\x1b\[[0-9;]*[HfABCDEFGd]")
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Queries a terminal answers: device attributes, cursor position, mode reports (DECRQM).
_QUERIES: list[tuple[re.Pattern[bytes], bytes]] = [
    (re.compile(rb"\x1b\[c|\x1b\[0c"), b"\x1b[?62;22c"),
    (re.compile(rb"\x1b\[6n"), b"\x1b[1;1R"),
]
_DECRQM = re.compile(rb"\x1b\[\?(\d+)\$p")
TAIL = 65536
OVERLAP = 4096
"""Bytes of earlier output searched again with each read, so a marker split across two
reads is still found."""


def screen_text(raw: bytes) -> str:
    """The printable text in terminal output, escape sequences removed."""
    text = _ESCAPES.sub(b"", _CURSOR.sub(b"", raw))
    return text.decode("utf-8", "replace")


class PtyProcess:
    """A command running on a ``cols`` x ``rows`` pseudo-terminal."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cols: int,
        rows: int,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        marker: str | None = None,
    ) -> None:
        """``marker``: watch for this text from the first byte on (see :meth:`watch`)."""
        self.first_output: float | None = None
        self.first_text: float | None = None
        self.bytes_out = 0
        self.tail = bytearray()  # the last TAIL bytes written, for diagnostics
        self._lock = threading.Lock()
        self._watch: tuple[str, bytearray, threading.Event, list[float]] | None = None
        self._seen_at: list[float] = []
        self.marker_found = self.watch(marker) if marker is not None else None
        self.started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal, then become the command
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                if cwd is not None:
                    os.chdir(cwd)
                os.execvpe(argv[0], list(argv), dict(env if env is not None else os.environ))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.exit_status: int | None = None
        self._reader = threading.Thread(target=self._read, name=f"pty-{pid}", daemon=True)
        self._reader.start()

    # -- output ---------------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            now = time.monotonic()
            with self._lock:
                if self.first_output is None:
                    self.first_output = now
                if self.first_text is None and screen_text(chunk).strip():
                    self.first_text = now
                self.bytes_out += len(chunk)
                self.tail += chunk
                del self.tail[:-TAIL]
                watch = self._watch
                if watch is not None:
                    marker, seen, found, when = watch
                    seen += chunk
                    if not found.is_set() and marker in screen_text(
                        bytes(seen[-(len(chunk) + OVERLAP) :])
                    ):
                        when.append(now)
                        found.set()
                        self._watch = None
            self._answer(chunk)

    def _answer(self, chunk: bytes) -> None:
        if b"\x1b[" not in chunk:
            return
        replies = [reply for pattern, reply in _QUERIES if pattern.search(chunk)]
        # Mode 2026 (synchronized output) supported and reset; any other mode unknown.
        replies += [
            b"\x1b[?%s;%d$y" % (mode, 2 if mode == b"2026" else 0)
            for mode in _DECRQM.findall(chunk)
        ]
        for reply in replies:
            self.write(reply)

    def watch(self, marker: str) -> threading.Event:
        """Start looking for ``marker`` in what is written from now on; the event is set
        when it appears (its time is in :attr:`seen_at`)."""
        found = threading.Event()
        self._seen_at = []
        with self._lock:
            self._watch = (marker, bytearray(), found, self._seen_at)
        return found

    @property
    def seen_at(self) -> float | None:
        return self._seen_at[0] if self._seen_at else None

    def key_to_marker(self, key: bytes, marker: str, timeout: float) -> float | None:
        """Seconds from writing ``key`` to the first output that shows ``marker``."""
        found = self.watch(marker)
        t0 = time.monotonic()
        self.write(key)
        if not found.wait(timeout):
            with self._lock:
                self._watch = None
            return None
        assert self.seen_at is not None
        return self.seen_at - t0

    def wait_for(self, marker: str, timeout: float) -> float | None:
        """Time since start at which ``marker`` appeared (watching from now), or None."""
        found = self.watch(marker)
        if not found.wait(timeout):
            return None
        assert self.seen_at is not None
        return self.seen_at - self.started

    # -- input and /proc ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (not of its children), in seconds."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mib(self) -> float:
        statm = Path(f"/proc/{self.pid}/statm").read_text().split()
        return int(statm[1]) * PAGE / 2**20

    def alive(self) -> bool:
        if self.exit_status is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.exit_status = status
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Ask the program to stop (SIGTERM), then kill it if it does not."""
        deadline = time.monotonic() + timeout
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        try:
            os.close(self.fd)
        except OSError:
            pass
        self._reader.join(1.0)

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sampler:
    """CPU % of one core and output bytes/s of a :class:`PtyProcess` over a window."""

    def __init__(self, proc: PtyProcess) -> None:
        self.proc = proc
        self.t0 = time.monotonic()
        self.cpu0 = proc.cpu_seconds()
        self.bytes0 = proc.bytes_out

    def result(self) -> tuple[float, float]:
        """(CPU % of one core, kB/s) since the sampler was made."""
        elapsed = time.monotonic() - self.t0
        cpu = (self.proc.cpu_seconds() - self.cpu0) / elapsed * 100
        rate = (self.proc.bytes_out - self.bytes0) / 1024 / elapsed
        return cpu, rate
