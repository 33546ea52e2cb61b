"""SIGINT, SIGTERM and SIGHUP quit the dashboard the way ``q`` does.

Python's defaults would kill the process in the middle of a reply (losing it from the
conversation log) and leave the terminal in the alternate screen with mouse reporting
on. Here the first signal starts the normal quit (socket closed, reply in progress
written as ``[interrupted: quit]``, logs flushed, terminal restored); a second one exits
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

from textual.app import App

from voicelive_tui.runner import QUIT_SIGNALS

log = logging.getLogger(__name__)

HANGUP_EXIT_S = 1.8
"""After a hang-up, the longest wait for the session to close before exiting anyway."""


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
    received: list[int] = []

    def on_signal(signum: int) -> None:
        log.info("Received %s: quitting", signal.Signals(signum).name)
        received.append(signum)
        if signum == signal.SIGHUP:
            if terminal_gone():
                detach_from_terminal()
                exit_once_session_ended(app)
            elif on_hangup is not None:
                on_hangup()
        if len(received) == 1:
            loop.create_task(app.run_action("quit"))
        else:
            app.exit(app.return_code)

    for sig in QUIT_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in QUIT_SIGNALS:
            loop.remove_signal_handler(sig)
