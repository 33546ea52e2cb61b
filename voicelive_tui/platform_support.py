"""What differs between Linux, macOS and Windows, in one place.

Every call that exists on some platforms only (POSIX file modes, user ids, Unix sockets,
``loop.add_signal_handler``, Linux's ``TCP_INFO``, Windows' console control handler) is
here, behind a function that does the platform's equivalent or says it does not apply.
The rest of the package imports and runs on ``linux``, ``darwin`` and ``win32`` alike;
CI type-checks it for each (``mypy --platform``), and ``tests/platforms`` runs it in a
simulated Windows and macOS standard library. Only ``sys.platform`` is consulted (never
``os.name`` or ``platform.system()``), so mypy narrows each branch to its platform.

This module imports nothing of voicelive_tui: audio/ and emulator/ use it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

QuitSignal = Literal["SIGINT", "SIGTERM", "SIGHUP"]
"""Why the app is asked to quit, in POSIX terms; Windows' console events map onto them."""
QUIT_SIGNALS: tuple[QuitSignal, ...] = ("SIGINT", "SIGTERM", "SIGHUP")

PLATFORM_NAMES = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}

T = TypeVar("T")


def platform_name() -> str:
    """This platform as a user calls it (``Windows``, ``macOS``, ``Linux``)."""
    return PLATFORM_NAMES.get(sys.platform, sys.platform)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop where it is installed (a dependency on Linux and
    macOS; it has no Windows build, and Windows keeps asyncio's own loop).

    The session wakes its loop 50 times a second for the microphone's 20 ms blocks, and
    a wake-up costs what the loop's own Python costs: on uvloop (libuv, in C) console mode
    took 10-15 % less CPU (``benchmarks/send_path.py``)."""
    if sys.platform != "win32":
        try:
            import uvloop
        except ImportError:  # installed without its dependency: asyncio's loop works too
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def linux_only(feature: str) -> str:
    """'' on Linux; elsewhere one line saying that ``feature`` is Linux only."""
    if sys.platform == "linux":
        return ""
    return f"{feature}: Linux only (not available on {platform_name()})"


# -- private files --------------------------------------------------------------------------

O_BINARY: int = getattr(os, "O_BINARY", 0)
"""Windows opens descriptors in text mode (CRLF translation) unless told otherwise; 0 on
POSIX, where there is no text mode."""
O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
"""Never through a symlink, where the platform can say so (not on Windows)."""


def restrict_to_owner(fd: int) -> None:
    """Make an open file the owner's alone: mode 0600 on POSIX (the umask may have taken
    bits away, never added them). Windows has no file modes: a file there inherits the
    permissions of its folder (see :func:`log_privacy`)."""
    if sys.platform != "win32":
        os.fchmod(fd, 0o600)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents): mode 0700 on POSIX; on Windows it inherits the
    permissions of the folder it is made in."""
    path.mkdir(parents=True, mode=0o700)
    if sys.platform != "win32":
        os.chmod(path, 0o700)


def log_privacy(folder: Path) -> tuple[bool, str]:
    """Whether files made in ``folder`` are the user's alone, and a note saying how.

    POSIX: yes, by their mode (no note). Windows has no file modes; only the user's
    profile folder (``C:\\Users\\me``) is closed to other users by default, so files
    are private inside it (the note says so) and may be readable outside it (the note
    says what to do).
    """
    if sys.platform != "win32":
        return True, ""
    try:
        profile = Path.home().resolve()
        inside = folder.resolve().is_relative_to(profile)
    except (OSError, RuntimeError):
        profile, inside = Path("~"), False
    if inside:
        return True, (
            f"on Windows the logs are private through your profile folder ({profile}), "
            "whose permissions they inherit, not through file modes"
        )
    return False, (
        f"on Windows the logs in {folder} are not protected by file modes and it is outside "
        f"your profile folder ({profile}): other users of this computer may be able to read "
        "them; use --log-dir with a folder inside your profile"
    )


# -- commands ---------------------------------------------------------------------------------


def command_argv(command: str) -> list[str]:
    """A command line as program and arguments, by this platform's rules: POSIX shell
    words, or on Windows words split at spaces outside double quotes, with backslashes
    kept (``python "C:\\My tools\\weather.py"``). ValueError when quotes do not close."""
    if sys.platform != "win32":
        return shlex.split(command)
    words = shlex.split(command, posix=False)
    if any(word.count('"') % 2 for word in words):
        raise ValueError("No closing quotation")
    return [word.replace('"', "") for word in words]


# -- PulseAudio (Linux only) ------------------------------------------------------------------


def user_id() -> int | None:
    """The numeric user id (POSIX), None on Windows."""
    if sys.platform == "win32":
        return None
    return os.getuid()


def connect_unix_socket(path: str, timeout: float) -> None:
    """Connect to a Unix socket at ``path`` and close it again; OSError when nothing
    answers, or on a platform without Unix sockets in Python (Windows)."""
    if sys.platform == "win32":
        raise OSError(0, linux_only("Unix sockets"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)


# -- round-trip time ------------------------------------------------------------------------

LINUX_TCP_INFO_SIZE = 104
LINUX_RTT_OFFSET = 68
"""Linux's ``struct tcp_info``: ``tcpi_rtt`` (smoothed round trip, microseconds) at 68."""
DARWIN_TCP_CONNECTION_INFO = 0x106
"""xnu ``netinet/tcp.h``: ``TCP_CONNECTION_INFO`` (``socket`` has it from Python 3.11)."""
DARWIN_CONNECTION_INFO_SIZE = 112
DARWIN_SRTT_OFFSET = 44
"""xnu's ``struct tcp_connection_info``: four bytes (state, the two window scales, pad),
then ``u_int32_t`` options, flags, rto, maxseg, snd_ssthresh, snd_cwnd, snd_wnd,
snd_sbbytes, rcv_wnd, rttcur, and ``tcpi_srtt`` (average round trip, milliseconds) at 44;
then rttvar, the TFO bit field and seven 8-aligned ``u_int64_t`` counters: 112 bytes."""


def rtt_from_linux_tcp_info(info: bytes) -> float | None:
    """``tcpi_rtt`` of a Linux ``struct tcp_info``, in ms; None when it is cut short."""
    if len(info) < LINUX_RTT_OFFSET + 4:
        return None
    (rtt_us,) = struct.unpack_from("=I", info, LINUX_RTT_OFFSET)
    return int(rtt_us) / 1000


def rtt_from_darwin_connection_info(info: bytes) -> float | None:
    """``tcpi_srtt`` of a macOS ``struct tcp_connection_info``, in ms; None when cut short."""
    if len(info) < DARWIN_SRTT_OFFSET + 4:
        return None
    (srtt_ms,) = struct.unpack_from("=I", info, DARWIN_SRTT_OFFSET)
    return float(srtt_ms)


def tcp_rtt_ms(sock: socket.socket) -> float | None:
    """The kernel's smoothed round-trip time of a TCP socket, in ms: Linux's ``TCP_INFO``,
    macOS's ``TCP_CONNECTION_INFO``; None where the kernel does not offer it (Windows,
    another system, an option the kernel refuses), never a figure read from a layout we
    do not know."""
    try:
        if sys.platform == "linux":
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, LINUX_TCP_INFO_SIZE)
            return rtt_from_linux_tcp_info(info)
        if sys.platform == "darwin":
            option = getattr(socket, "TCP_CONNECTION_INFO", DARWIN_TCP_CONNECTION_INFO)
            info = sock.getsockopt(socket.IPPROTO_TCP, option, DARWIN_CONNECTION_INFO_SIZE)
            return rtt_from_darwin_connection_info(info)
    except OSError:
        return None
    return None


# -- quit signals ---------------------------------------------------------------------------

CTRL_CLOSE_EVENT = 2
CTRL_LOGOFF_EVENT = 5
CTRL_SHUTDOWN_EVENT = 6
CONSOLE_EVENTS: dict[int, QuitSignal] = {
    CTRL_CLOSE_EVENT: "SIGHUP",  # the console window closed: the terminal is gone
    CTRL_LOGOFF_EVENT: "SIGTERM",
    CTRL_SHUTDOWN_EVENT: "SIGTERM",
}
"""Windows' console control events that Python's ``signal`` module does not deliver.
(Ctrl+C and Ctrl+Break arrive as SIGINT and SIGBREAK through the C runtime.)"""
CLOSE_GRACE_S = 4.0
"""Windows ends a process 5 s after a close, log-off or shut-down event, and at once
when its handler returns: the handler waits this long, at most, for the clean quit."""


class ConsoleControl:
    """A Windows console control handler (``SetConsoleCtrlHandler``): a close, log-off or
    shut-down event quits as SIGHUP / SIGTERM do on POSIX.

    Windows calls it on a thread of its own. It hands the quit to the loop, then holds
    that thread until :meth:`finished` (the session closed and its logs were written) or
    :data:`CLOSE_GRACE_S`, because the process ends as soon as it returns. Ctrl+C and
    Ctrl+Break are left to the next handler (the C runtime's, which raises SIGINT and
    SIGBREAK for Python's ``signal`` module).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_quit: Callable[[QuitSignal], object],
        grace_s: float = CLOSE_GRACE_S,
    ) -> None:
        self._loop = loop
        self._on_quit = on_quit
        self._grace_s = grace_s
        self._done = threading.Event()

    def __call__(self, event: int) -> bool:
        name = CONSOLE_EVENTS.get(event)
        if name is None:
            return False
        try:
            self._loop.call_soon_threadsafe(self._on_quit, name)
        except RuntimeError:  # the loop is closed: nothing left to wait for
            return True
        self._done.wait(self._grace_s)
        return True

    def finished(self) -> None:
        """The quit is done: let a waiting handler return (and Windows end the process)."""
        self._done.set()


@contextlib.contextmanager
def _console_control(control: ConsoleControl) -> Iterator[None]:
    """``control`` registered with Windows while inside (nothing elsewhere)."""
    if sys.platform != "win32":
        yield
        return
    import ctypes

    routine = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_ulong)(control)
    kernel32 = ctypes.windll.kernel32
    registered = bool(kernel32.SetConsoleCtrlHandler(routine, True))
    if not registered:
        log.warning("SetConsoleCtrlHandler failed: closing the console will not log the quit")
    try:
        yield
    finally:
        control.finished()
        if registered:
            kernel32.SetConsoleCtrlHandler(routine, False)


def _python_signals(names: Sequence[QuitSignal]) -> list[tuple[QuitSignal, int]]:
    """The signal numbers this platform's ``signal`` module has for ``names``; Ctrl+Break
    (Windows' SIGBREAK) counts as SIGTERM."""
    found: list[tuple[QuitSignal, int]] = []
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            found.append((name, number))
    if "SIGTERM" in names and hasattr(signal, "SIGBREAK"):
        found.append(("SIGTERM", signal.SIGBREAK))
    return found


@contextlib.contextmanager
def _handlers_through_signal_module(
    loop: asyncio.AbstractEventLoop,
    on_quit: Callable[[QuitSignal], object],
    names: Sequence[QuitSignal],
) -> Iterator[None]:
    """Where the loop cannot watch signals (Windows' loops): ``signal.signal`` handlers
    that hand the quit to the loop; the previous handlers come back at the end."""
    previous: list[tuple[int, Any]] = []

    def handler_for(name: QuitSignal) -> Callable[[int, Any], None]:
        def handler(_signum: int, _frame: Any) -> None:
            loop.call_soon_threadsafe(on_quit, name)

        return handler

    try:
        for name, number in _python_signals(names):
            try:
                previous.append((number, signal.signal(number, handler_for(name))))
            except ValueError:  # not the main thread: the caller's own handlers stay
                log.warning("Cannot watch %s outside the main thread", name)
        yield
    finally:
        for number, handler in reversed(previous):
            signal.signal(number, handler)


@contextlib.contextmanager
def quit_signals(
    on_quit: Callable[[QuitSignal], object], names: Sequence[QuitSignal] = QUIT_SIGNALS
) -> Iterator[None]:
    """While inside, ``on_quit(name)`` runs on the running loop at each quit signal.

    POSIX: the loop's own signal handlers for ``names``. Windows (whose loops raise
    NotImplementedError for them): ``signal.signal`` for Ctrl+C (SIGINT) and Ctrl+Break
    (SIGBREAK, as SIGTERM), and a console control handler for closing the console (as
    SIGHUP), logging off and shutting down (as SIGTERM) when SIGHUP is in ``names``.
    """
    loop = asyncio.get_running_loop()
    added: list[int] = []
    before = {number: signal.getsignal(number) for _, number in _python_signals(names)}

    def give_back() -> None:
        # The loop's removal leaves the default handler; what was there goes back (under
        # nohup, SIGHUP's SIG_IGN).
        for number in added:
            loop.remove_signal_handler(number)
            if before[number] is not None:
                signal.signal(number, before[number])
        added.clear()

    try:
        for name, number in _python_signals(names):
            loop.add_signal_handler(number, on_quit, name)
            added.append(number)
    except NotImplementedError:
        give_back()
    if added:
        try:
            yield
        finally:
            give_back()
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(_handlers_through_signal_module(loop, on_quit, names))
        if "SIGHUP" in names:
            stack.enter_context(_console_control(ConsoleControl(loop, on_quit)))
        yield


@contextlib.contextmanager
def keys_one_at_a_time(fd: int) -> Iterator[bool]:
    """While inside, the terminal on ``fd`` hands over each key as it is pressed, unechoed
    (POSIX: line mode and echo off; signals and output as they were), then is restored.
    Yields False where that cannot be done (Windows: its loop cannot watch a console)."""
    if sys.platform == "win32":
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def line_mode(fd: int, on: bool) -> None:
    """POSIX: the terminal's line mode with echo (a typed line), or keys one at a time."""
    if sys.platform == "win32":
        return
    import termios
    import tty

    if on:
        mode = termios.tcgetattr(fd)
        mode[3] |= termios.ICANON | termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, mode)
    else:
        tty.setcbreak(fd)
