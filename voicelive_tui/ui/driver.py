"""A terminal driver whose writes never block the event loop (a stalled SSH link).

Textual's own writer thread queues at most 30 writes and then blocks the caller. When the
terminal stops reading (an SSH client stopped or a link stalled), the app's event loop
blocks in ``write``, and with it the Voice Live session that shares the loop: no socket
reads, no log lines, no audio hand-off, until the link resumes.

:class:`FrameDroppingWriter` keeps the screen's output in memory instead. Once a write to
the terminal has been blocked for :data:`STALL_AFTER_S` (or the output held exceeds
:data:`MAX_PENDING_CHARS`), the terminal is not reading: the pending output is dropped,
later frames are dropped too, and once the blocked write returns (the link is back) the
app is asked for one full repaint. Intermediate frames are lost, never the
final picture; nothing on the loop ever waits for the terminal. Writes made while the
driver restores the terminal on exit are kept (bounded by :data:`STOP_TIMEOUT_S`).
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from textual._ansi_sequences import SYNC_END, SYNC_START
from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

from voicelive_tui.audio import portaudio
from voicelive_tui.ui.signals import in_foreground
from voicelive_tui.ui.stderr_capture import StderrCapture

STALL_AFTER_S = 1.0
"""A write to the terminal blocked this long means the terminal is not reading."""
MAX_PENDING_CHARS = 1024 * 1024
"""A bound on the output held for a slow terminal (about ten full 160x48 frames)."""
STOP_TIMEOUT_S = 2.0
"""How long quitting waits for a stalled terminal to take the last writes."""
HURRIED_STOP_S = 0.3
"""The same wait after a hang-up (SIGHUP): the terminal is going away, do not wait on it."""


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
        self._stopping = False  # restoring the terminal: keep every write
        self._finished = False  # write what is queued, then end
        self._writing_since: float | None = None  # when the write in progress began
        self._in_frame = False  # between a synchronised update's start and its end
        self.dropped_writes = 0
        """Writes discarded while the terminal was not reading (for tests and benchmarks)."""
        self.stalls = 0
        """How many times the terminal stopped keeping up."""
        self.stop_timeout = STOP_TIMEOUT_S

    def write(self, text: str) -> None:
        """Queue ``text``; never blocks for longer than a lock hand-off.

        Textual writes a frame as three pieces (the synchronised update's start, the
        frame, its end): the thread is woken once, at the end, and writes them together,
        not three times a frame (each wake-up costs the loop's thread the GIL).
        """
        with self._ready:
            if text == SYNC_START:
                self._in_frame = True
            elif text == SYNC_END:
                self._in_frame = False
            if self._stopping:  # the terminal restore sequences: always kept
                self._queue(text)
                return
            if self._stale:
                self.dropped_writes += 1
                return
            blocked = self._writing_since is not None and (
                time.monotonic() - self._writing_since > STALL_AFTER_S
            )
            if blocked or self._pending_chars + len(text) > MAX_PENDING_CHARS:
                self.dropped_writes += len(self._pending) + 1
                self._pending.clear()
                self._pending_chars = 0
                self._stale = True
                self.stalls += 1
                return
            self._queue(text)

    def _queue(self, text: str) -> None:
        self._pending.append(text)
        self._pending_chars += len(text)
        if not self._in_frame:
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
                while (not self._pending or self._in_frame) and not self._finished:
                    self._ready.wait()
                text = "".join(self._pending)
                self._pending.clear()
                self._pending_chars = 0
                finished = self._finished
                self._writing_since = time.monotonic()
            if text:
                try:
                    write(text)  # blocks while the terminal is not reading
                    flush()
                except OSError:  # the terminal is gone (SSH dropped): nothing to draw on
                    return
            with self._ready:
                self._writing_since = None
            if finished:
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

    def closing(self) -> None:
        """From now on keep every write: the driver restores the terminal next."""
        with self._ready:
            self._stopping = True
            self._stale = False

    def discard(self) -> None:
        """Write nothing more (the terminal is not ours any longer) and end the thread."""
        with self._ready:
            self._pending.clear()
            self._pending_chars = 0
            self._stale = True
            self._finished = True
            self._ready.notify()

    def stop(self) -> None:
        """Write what is queued (the terminal restore sequences), then end the thread."""
        self.closing()
        with self._ready:
            self._finished = True
            self._ready.notify()
        self.join(self.stop_timeout)


def dashboard_output() -> io.TextIOWrapper | None:
    """Where the dashboard draws when standard error is not a terminal (``2>errors.txt``):
    standard output if it is one; None to keep Textual's choice (standard error)."""
    stderr, stdout = sys.__stderr__, sys.__stdout__
    if stderr is not None and stderr.isatty():
        return None
    return stdout if isinstance(stdout, io.TextIOWrapper) and stdout.isatty() else None


def diagnostics_note() -> str:
    """One line for the terminal when the dashboard does not draw on standard error:
    where the diagnostics (errors, warnings) go instead ('' when it does)."""
    if dashboard_output() is None:
        return ""
    try:
        target = os.readlink("/proc/self/fd/2")
    except OSError:
        target = ""
    where = f"standard error ({target})" if target.startswith("/") else "standard error"
    return f"voicelive-tui: the dashboard draws on standard output; diagnostics go to {where}"


class NonBlockingDriver(LinuxDriver):
    """Textual's Linux driver with :class:`FrameDroppingWriter` as its writer thread,
    drawing on standard output when standard error is not a terminal, and leaving the
    terminal alone at exit when it is not the foreground job's. Drawing on standard
    error, it keeps what C libraries print there (PortAudio) off the screen
    (:class:`StderrCapture`)."""

    def __init__(self, app: App[object], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._file = dashboard_output() or self._file
        self._stderr = StderrCapture()
        self._on_stderr = self._file is sys.__stderr__ and sys.__stderr__ is not None

    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._on_stderr:  # again after a suspension (Ctrl+Z, fg)
            self._file = self._stderr.start() or sys.__stderr__
        super().start_application_mode()
        # The base class started its own writer and wrote the set-up sequences through it:
        # let that writer finish them, then take over.
        original = self._writer_thread
        assert original is not None
        original.stop()
        assert self._file is not None  # application mode runs on a terminal file
        writer = FrameDroppingWriter(self._file, self._request_repaint)
        writer.start()
        self._writer_thread = writer  # type: ignore[assignment]

    def stop_application_mode(self) -> None:
        writer = self._writer_thread
        if not in_foreground(self.fileno):
            # Sent to the background (or stopped there and sent SIGTERM): the terminal is
            # another job's now, and touching it would stop this process again for good.
            if isinstance(writer, FrameDroppingWriter):
                writer.discard()
            self.exit_event.set()  # the input thread ends within its 0.1 s poll
            self._stderr.stop()
            return
        if isinstance(writer, FrameDroppingWriter):
            writer.closing()
        super().stop_application_mode()
        self._stderr.stop(silence=bool(portaudio.THREAD.stuck))

    def hurry(self) -> None:
        """The terminal hung up: on quitting, wait for it only briefly."""
        writer = self._writer_thread
        if isinstance(writer, FrameDroppingWriter):
            writer.stop_timeout = HURRIED_STOP_S

    def _request_repaint(self) -> None:
        """From the writer thread, once a stalled terminal reads again: redraw everything."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(_repaint, self._app)


def _repaint(app: App[object]) -> None:
    if app.is_running:
        app.screen.refresh()
