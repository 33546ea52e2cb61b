"""SIGINT, SIGTERM and SIGHUP quit the dashboard the way ``q`` does (on Windows: Ctrl+C,
Ctrl+Break and closing the console, see :func:`voicelive_tui.platform_support.quit_signals`).

Python's defaults would kill the process in the middle of a reply (losing it from the
conversation log) and leave the terminal in the alternate screen with mouse reporting
on. Here the first signal starts the normal quit (socket closed, reply in progress
written as ``[interrupted: quit]``, logs flushed, terminal restored); a second one exits
at once.

Started as a background job (``voicelive-tui &``, or ``timeout 6 voicelive-tui`` from a
script, which runs it in a process group of its own), the dashboard waits stopped, as
job control expects, until it is the terminal's foreground job
(:func:`wait_for_foreground`); a quit signal meanwhile ends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from textual.app import App

from voicelive_tui.platform_support import QUIT_SIGNALS, QuitSignal, quit_signals

log = logging.getLogger(__name__)

HANGUP_EXIT_S = 1.8
"""After a hang-up, the longest wait for the session to close before exiting anyway."""


FOREGROUND_POLL_S = 0.2
"""How often a background job that could not be stopped (an orphaned process group)
looks again whether it has become the foreground job."""


def in_foreground(fd: int) -> bool:
    """True when this process's group is the foreground job of the terminal on ``fd``
    (or ``fd`` is no terminal): the terminal is ours to set up and to restore."""
    if sys.platform == "win32":  # no job control: the console is the process's own
        return True
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, AttributeError):  # no terminal (or no job control): nothing to wait for
        return True


def wait_for_foreground(fd: int) -> bool:
    """Wait, stopped, until this process is the foreground job of the terminal on ``fd``.

    A background job that sets up the terminal is stopped by the kernel (SIGTTOU); set
    up in the middle of Textual's start, that stop comes back after every SIGCONT and a
    SIGTERM never gets handled. So the job stops itself first, as the kernel would, and
    looks again at each SIGCONT. Returns False when SIGINT, SIGTERM or SIGHUP came first
    (``timeout`` sends SIGTERM, then SIGCONT): the run ends before it started.
    """
    if sys.platform == "win32" or in_foreground(fd):  # Windows has no job control
        return True
    quit_by: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: quit_by.append(signum))
        for sig in (getattr(signal, name) for name in QUIT_SIGNALS)
    }
    try:
        while not quit_by and not in_foreground(fd):
            os.killpg(os.getpgrp(), signal.SIGTTOU)  # stopped here until SIGCONT
            if not quit_by and not in_foreground(fd):
                # Not stopped: SIGTTOU ignored (inherited) or an orphaned group. Look again
                # in a while; a terminal gone meanwhile (hung up) ends the wait.
                time.sleep(FOREGROUND_POLL_S)
                if not os.isatty(fd):
                    quit_by.append(signal.SIGHUP)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if quit_by:
        log.info("Received %s while a background job: quitting", signal.Signals(quit_by[0]).name)
    return not quit_by


def terminal_gone(fd: int = 1) -> bool:
    """True when the terminal hung up (an empty write fails with EIO)."""
    try:
        os.write(fd, b"")
    except OSError as exc:
        return exc.errno in (errno.EIO, errno.ENXIO, errno.EPIPE)
    return False


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null.

    After a hang-up every write to the terminal fails; Textual's writer thread would die
    on the first one and the app would block on its full queue instead of exiting.
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def exit_once_session_ended(app: App[int], timeout: float = HANGUP_EXIT_S) -> None:
    """After a hang-up, leave as soon as the session has written and closed its logs.

    Textual's shutdown still writes to the terminal it had (its writer thread may be
    gone with it) and can block for ever; there is no terminal left to restore.
    """

    def session_ended() -> bool:
        workers = [w for w in list(app.workers) if w.group == "session"]
        return all(w.is_finished for w in workers)

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not session_ended() and time.monotonic() < deadline:
            time.sleep(0.02)
        log.info("Terminal hung up: exiting")
        logging.shutdown()
        os._exit(app.return_code or 0)

    threading.Thread(target=watch, name="hangup-exit", daemon=True).start()


@contextlib.contextmanager
def quit_on_signals(app: App[int], on_hangup: Callable[[], None] | None = None) -> Iterator[None]:
    """While inside, the quit signals run ``app.action_quit()`` on the running loop.

    ``on_hangup`` runs at a SIGHUP while the terminal still takes writes (sshd sends the
    signal before it closes the terminal): quitting must not wait on the terminal.
    """
    loop = asyncio.get_running_loop()
    received: list[QuitSignal] = []

    def on_signal(name: QuitSignal) -> None:
        log.info("Received %s: quitting", name)
        received.append(name)
        if name == "SIGHUP":
            if terminal_gone():
                detach_from_terminal()
                exit_once_session_ended(app)
            elif on_hangup is not None:
                on_hangup()
        if len(received) == 1:
            loop.create_task(app.run_action("quit"))
        else:
            app.exit(app.return_code)

    with quit_signals(on_signal):
        yield
