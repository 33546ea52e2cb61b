"""While the dashboard draws: what C libraries write to file descriptor 2 goes to the log.

PortAudio prints its diagnostics straight to file descriptor 2 (``fprintf(stderr)``:
"Expression '...' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665") when the
sound server dies, and the dashboard draws on that same terminal: the lines land over
the panels during a recovery. ALSA's own are silenced at their source
(:func:`voicelive_tui.audio.devices.silence_alsa_errors`), but PortAudio's cannot be:
``PaUtil_SetDebugPrintFunction`` is not exported by the shared library (Debian's
``libportaudio2``), so ctypes cannot reach it.

So, only while the dashboard holds the terminal on standard error, :class:`StderrCapture`
points file descriptor 2 at a pipe and the dashboard draws through a copy of the
terminal's descriptor; a thread reads the pipe and writes each line to the technical log
(through :func:`displayable`: no control sequence reaches the file). Python's own writes
to ``sys.stderr`` are Textual's to capture, as before. Standard error comes back when the
dashboard stops, before anything is printed at exit.

A line that comes again is logged the 1st, 10th, 100th... time, with its count: when the
sound server dies, PortAudio's callback thread can loop for good on its error path
(PortAudio#1037: "'self->capture.ready || self->playback.ready' failed", thousands of
times a second, until the process ends), which would otherwise fill the disk. And when
PortAudio is stuck so when the dashboard stops, file descriptor 2 stays off the terminal
(on /dev/null; Python's own ``sys.stderr`` gets the terminal), or those lines would run
over the shell's prompt until the process ends.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading

from voicelive_tui.safe_text import displayable

log = logging.getLogger("voicelive_tui.stderr")

JOIN_S = 1.0
"""How long stopping waits for the last lines (a child may still hold the pipe open)."""
KEPT_LINES = 256
"""Distinct lines whose repeats are counted (then the count starts again)."""


class StderrCapture:
    """File descriptor 2 into the technical log, the terminal kept for the dashboard."""

    def __init__(self) -> None:
        self._saved: int | None = None
        self._pipe: os.stat_result | None = None
        self._thread: threading.Thread | None = None
        self.lines = 0
        """Lines read so far (a repeated line is logged only now and then)."""
        self._seen: dict[str, int] = {}

    def start(self) -> io.TextIOWrapper | None:
        """Capture file descriptor 2; the terminal it was, as a file to draw on (None:
        nothing captured, draw as before)."""
        if self._saved is not None:
            return None
        if sys.__stderr__ is not None:
            sys.__stderr__.flush()
        try:
            saved = os.dup(2)
            read, write = os.pipe()
        except OSError:
            return None
        try:
            terminal = os.dup(saved)
            os.dup2(write, 2)
        except OSError:
            for fd in (saved, read, write):
                os.close(fd)
            return None
        os.close(write)  # fd 2 is the only writer: the reader ends when it is restored
        self._saved, self._pipe = saved, os.fstat(2)
        self._thread = threading.Thread(
            target=self._relay, args=(read,), daemon=True, name="voicelive-tui-stderr"
        )
        self._thread.start()
        return _terminal_file(terminal)

    def stop(self, *, silence: bool = False) -> None:
        """Give file descriptor 2 back (unless something else took it meanwhile: a
        hang-up points it at /dev/null), and wait briefly for the last lines.
        ``silence``: a C library may still print there for good (a stuck PortAudio):
        file descriptor 2 goes to /dev/null, and ``sys.stderr`` to the terminal."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            now = os.fstat(2)
            ours = self._pipe is not None and (now.st_dev, now.st_ino) == (
                self._pipe.st_dev,
                self._pipe.st_ino,
            )
            if ours and silence:
                sys.stderr = _terminal_file(os.dup(saved), line_buffering=True)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            elif ours:
                os.dup2(saved, 2)
        except OSError:
            pass
        finally:
            os.close(saved)
        if self._thread is not None:
            self._thread.join(JOIN_S)

    def _relay(self, fd: int) -> None:
        """The thread: each line written to file descriptor 2, into the technical log."""
        pending = b""
        with open(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(4096):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._log(line)
        self._log(pending)

    def _log(self, line: bytes) -> None:
        text = displayable(line.decode(errors="replace"), one_line=True).strip()
        if not text:
            return
        self.lines += 1
        if len(self._seen) >= KEPT_LINES and text not in self._seen:
            self._seen.clear()
        count = self._seen[text] = self._seen.get(text, 0) + 1
        if count == 1:
            # INFO: never Python's last-resort handler, which writes to fd 2 itself.
            log.info("stderr: %s", text)
        elif count == 10 ** (len(str(count)) - 1):  # 10, 100, 1000...
            log.info("stderr (%d times so far): %s", count, text)


def _terminal_file(fd: int, *, line_buffering: bool = False) -> io.TextIOWrapper:
    """A text file writing to the terminal's descriptor ``fd`` (which it then owns), in
    standard error's encoding."""
    encoding = getattr(sys.__stderr__, "encoding", None) or "utf-8"
    return io.TextIOWrapper(
        io.FileIO(fd, "w"), encoding=encoding, errors="replace", line_buffering=line_buffering
    )
