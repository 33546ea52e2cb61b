"""A terminal driver whose writes never block the event loop (a stalled SSH link).

Textual's own writer thread queues at most 30 writes and then blocks the caller. When the
terminal stops reading (an SSH client stopped or a link stalled), the app's event loop
blocks in ``write``, and with it the Voice Live session that shares the loop: no socket
reads, no log lines, no audio hand-off, until the link resumes.

:class:`FrameDroppingWriter` keeps the screen's output in memory instead, up to
:data:`MAX_PENDING_CHARS`. Beyond that the terminal is not keeping up: the pending output is
dropped, later frames are dropped too, and once the blocked write returns (the link is
back) the app is asked for one full repaint. Intermediate frames are lost, never the
final picture; nothing on the loop ever waits for the terminal. Writes made while the
driver restores the terminal on exit are kept (bounded by :data:`STOP_TIMEOUT_S`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import IO

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

MAX_PENDING_CHARS = 256 * 1024
"""About three full 160x48 truecolour frames: more means the terminal is not reading."""
STOP_TIMEOUT_S = 2.0
"""How long quitting waits for a stalled terminal to take the last writes."""


class FrameDroppingWriter(threading.Thread):
    """The driver's writer: collects writes, writes them in a thread, drops on a stall."""

    def __init__(self, file: IO[str], on_resume: Callable[[], None]) -> None:
        super().__init__(daemon=True, name="voicelive-tui-output")
        self._file = file
        self._on_resume = on_resume
        self._ready = threading.Condition()
        self._pending: list[str] = []
        self._pending_chars = 0
        self._stale = False  # output was dropped: the screen needs a full repaint
        self._stopping = False
        self.dropped_writes = 0
        """Writes discarded while the terminal was not reading (for tests and benchmarks)."""
        self.stalls = 0
        """How many times the terminal stopped keeping up."""

    def write(self, text: str) -> None:
        """Queue ``text``; never blocks for longer than a lock hand-off."""
        with self._ready:
            if self._stale and not self._stopping:
                self.dropped_writes += 1
                return
            self._pending.append(text)
            self._pending_chars += len(text)
            if self._pending_chars > MAX_PENDING_CHARS and not self._stopping:
                self.dropped_writes += len(self._pending)
                self._pending.clear()
                self._pending_chars = 0
                self._stale = True
                self.stalls += 1
            self._ready.notify()

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def flush(self) -> None:
        """A no-op: the thread flushes after each batch."""

    def run(self) -> None:
        write, flush = self._file.write, self._file.flush
        while True:
            with self._ready:
                while not self._pending and not self._stopping:
                    self._ready.wait()
                text = "".join(self._pending)
                self._pending.clear()
                self._pending_chars = 0
                stopping = self._stopping
            if text:
                try:
                    write(text)  # blocks while the terminal is not reading
                    flush()
                except OSError:  # the terminal is gone (SSH dropped): nothing to draw on
                    return
            if stopping:
                with self._ready:
                    if not self._pending:
                        return
                continue
            with self._ready:
                resumed = self._stale and not self._pending
                if resumed:
                    self._stale = False
            if resumed:
                self._on_resume()

    def stop(self) -> None:
        """Write what is queued (the terminal restore sequences), then end the thread."""
        with self._ready:
            self._stopping = True
            self._stale = False
            self._ready.notify()
        self.join(STOP_TIMEOUT_S)


class NonBlockingDriver(LinuxDriver):
    """Textual's Linux driver with :class:`FrameDroppingWriter` as its writer thread."""

    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()
        super().start_application_mode()
        # The base class started its own writer and wrote the set-up sequences through it:
        # let that writer finish them, then take over.
        original = self._writer_thread
        assert original is not None
        original.stop()
        writer = FrameDroppingWriter(self._file, self._request_repaint)
        writer.start()
        self._writer_thread = writer  # type: ignore[assignment]

    def _request_repaint(self) -> None:
        """From the writer thread, once a stalled terminal reads again: redraw everything."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(_repaint, self._app)


def _repaint(app: App[object]) -> None:
    if app.is_running:
        app.screen.refresh()
