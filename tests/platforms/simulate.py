"""Run voicelive-tui's code on this Linux machine as if it were on Windows or macOS.

    python tests/platforms/simulate.py {win32,darwin} MODULE [ARGS...]

runs ``python -m MODULE ARGS...`` in a simulated standard library. There is no Windows
or macOS machine here, so this is what the tests can do; what it cannot show (a real
console, CoreAudio, the Proactor loop itself) is listed in the README's platform table.

How the simulation is applied, and why this way:

* **Our code sees the target's ``sys.platform``; the standard library and third-party
  packages see the real one.** Setting ``sys.platform = "win32"`` for everyone would make
  the host's Python take Windows branches it cannot run: ``asyncio/__init__`` imports
  ``windows_events`` (``_overlapped``, ``_winapi``) by ``sys.platform``, and so do
  ``subprocess``, Textual's driver choice, sounddevice's library loading and aiohttp's
  checks at call time, some long after start-up. Those branches are their maintainers'
  (and their Windows CI's) business; ours are what is under test. So an import hook
  gives every ``voicelive_tui`` module, as it is loaded, builtins whose ``__import__``
  hands it a view of ``sys`` whose ``platform`` is the target's (everything else is the
  real ``sys``). ``platform_support`` and every ``sys.platform`` check of ours follow.
* **The names the target lacks are gone for everyone**, as they are on the real system:
  removed from ``signal``, ``os`` and ``socket`` before anything of ours is imported.
  Nothing of the host's that our run needs uses them (the selector event loop, aiohttp,
  the SDK; the test would fail if one did, and say which name).
* **Windows** also: ``termios``, ``tty``, ``pty``, ``fcntl``, ``pwd``, ``grp``,
  ``resource`` and ``curses`` cannot be imported (``sys.modules[name] = None``); the
  event loop's ``add_signal_handler`` and ``remove_signal_handler`` raise
  NotImplementedError, as Windows' loops do; ``signal`` has Windows' six signals plus
  SIGBREAK, CTRL_C_EVENT and CTRL_BREAK_EVENT; ``os.O_BINARY`` exists (0: Linux has no
  text mode); and ``ctypes`` gets the two things of kernel32 our code calls:
  ``WINFUNCTYPE`` (as ``CFUNCTYPE``) and ``windll.kernel32.SetConsoleCtrlHandler``,
  which keeps the registered handlers. SIGUSR2 (taken before ``signal`` is trimmed)
  plays Windows closing the console: the handlers are called newest first, through
  ctypes, on a new thread, with CTRL_CLOSE_EVENT; one that returns TRUE ends the
  process at once afterwards, as Windows does (exit status :data:`CLOSED_STATUS`).
  Ctrl+C is a real SIGINT: on Windows it reaches Python's ``signal`` module the same
  way, through the C runtime.
* **macOS**: the Linux-only names are removed (``TCP_INFO`` among them),
  ``socket.TCP_CONNECTION_INFO`` is added with xnu's value, and ``getsockopt`` answers
  it as xnu would, from this kernel's measurement (see
  :func:`_darwin_kernel_answers_connection_info`). The loop's signal handlers are
  macOS's own (the selector loop has them there too).
"""

from __future__ import annotations

import builtins
import ctypes
import enum
import importlib
import importlib.abc
import importlib.machinery
import math
import os
import runpy
import signal
import socket
import struct
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

PACKAGE = "voicelive_tui"
CLOSED_STATUS = 0x3A
"""Exit status of a process Windows ended after a console close (STATUS_CONTROL_C_EXIT's
low byte, as a POSIX status can carry only one)."""
CTRL_CLOSE_EVENT = 2

WINDOWS_SIGNALS = ("SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM")
WINDOWS_SIGNAL_FUNCTIONS = (
    "alarm", "getitimer", "pause", "pidfd_send_signal", "pthread_kill", "pthread_sigmask",
    "setitimer", "siginterrupt", "sigpending", "sigtimedwait", "sigwait", "sigwaitinfo",
    "ITIMER_PROF", "ITIMER_REAL", "ITIMER_VIRTUAL", "ItimerError",
    "SIG_BLOCK", "SIG_SETMASK", "SIG_UNBLOCK",
)  # fmt: skip
POSIX_ONLY_OS = (
    "chown", "chroot", "ctermid", "fchdir", "fchmod", "fchown", "fdatasync", "fork",
    "forkpty", "fpathconf", "fstatvfs", "getegid", "geteuid", "getgid", "getgrouplist",
    "getgroups", "getloadavg", "getpgid", "getpgrp", "getpriority", "getresgid",
    "getresuid", "getsid", "getuid", "initgroups", "killpg", "lchown", "lockf", "major",
    "makedev", "memfd_create", "minor", "mkfifo", "mknod", "nice", "openpty", "pathconf",
    "pipe2", "posix_fadvise", "posix_fallocate", "posix_spawn", "posix_spawnp", "pread",
    "preadv", "pwrite", "pwritev", "readv", "register_at_fork", "sched_getaffinity",
    "sched_setaffinity", "sendfile", "setegid", "seteuid", "setgid", "setgroups",
    "setpgid", "setpgrp", "setpriority", "setregid", "setresgid", "setresuid",
    "setreuid", "setsid", "setuid", "statvfs", "sync", "sysconf", "tcgetpgrp",
    "tcsetpgrp", "ttyname", "uname", "wait", "wait3", "wait4", "waitid", "writev",
    "O_ASYNC", "O_CLOEXEC", "O_DIRECT", "O_DIRECTORY", "O_DSYNC", "O_NDELAY",
    "O_NOATIME", "O_NOCTTY", "O_NOFOLLOW", "O_NONBLOCK", "O_PATH", "O_RSYNC", "O_SYNC",
    "O_TMPFILE", "WNOHANG", "WCONTINUED", "WUNTRACED", "EX_OK",
)  # fmt: skip
POSIX_ONLY_SOCKET = (
    "AF_UNIX", "AF_PACKET", "AF_NETLINK", "CMSG_LEN", "CMSG_SPACE", "MSG_NOSIGNAL",
    "SCM_RIGHTS", "SCM_CREDENTIALS", "SO_PEERCRED", "SO_REUSEPORT", "SO_BINDTODEVICE",
    "TCP_INFO", "TCP_CONGESTION", "TCP_CORK", "TCP_DEFER_ACCEPT", "TCP_LINGER2",
    "TCP_QUICKACK", "TCP_SYNCNT", "TCP_USER_TIMEOUT", "TCP_WINDOW_CLAMP", "sethostname",
)  # fmt: skip
WINDOWS_MISSING_MODULES = ("termios", "tty", "pty", "fcntl", "pwd", "grp", "resource", "curses")

LINUX_ONLY_SIGNAL = (
    "SIGRTMIN", "SIGRTMAX", "SIGPWR", "SIGSTKFLT", "SIGPOLL", "SIGCLD",
    "sigtimedwait", "sigwaitinfo", "pidfd_send_signal",
)  # fmt: skip
LINUX_ONLY_OS = (
    "fdatasync", "memfd_create", "pipe2", "posix_fadvise", "posix_fallocate",
    "sched_getaffinity", "sched_setaffinity", "getxattr", "setxattr", "listxattr",
    "removexattr", "eventfd", "eventfd_read", "eventfd_write", "pidfd_open", "splice",
    "copy_file_range", "getrandom", "getresuid", "getresgid", "setresuid", "setresgid",
    "O_DIRECT", "O_NOATIME", "O_PATH", "O_TMPFILE", "O_RSYNC", "O_LARGEFILE",
)  # fmt: skip
LINUX_ONLY_SOCKET = (
    "AF_PACKET", "AF_NETLINK", "AF_ALG", "AF_VSOCK", "MSG_NOSIGNAL", "SCM_CREDENTIALS",
    "SO_PEERCRED", "SO_BINDTODEVICE", "TCP_INFO", "TCP_CONGESTION", "TCP_CORK",
    "TCP_DEFER_ACCEPT", "TCP_LINGER2", "TCP_QUICKACK", "TCP_SYNCNT", "TCP_USER_TIMEOUT",
    "TCP_WINDOW_CLAMP",
)  # fmt: skip
DARWIN_TCP_CONNECTION_INFO = 0x106
HOST_PACKAGES = (
    "numpy", "soxr", "aiohttp", "aiohttp.web", "azure.core", "azure.ai.voicelive.aio",
    "azure.identity", "azure.identity.aio", "dotenv", "rich", "textual.app",
)  # fmt: skip
"""Third-party packages our code uses, imported under the host's rules before the trim:
on the real target they take their own branches for it (numpy, for one, calls
``os.uname()`` at import on Linux only)."""


def _remove(module: types.ModuleType, names: Sequence[str]) -> None:
    for name in names:
        if hasattr(module, name):
            delattr(module, name)


# -- our code sees the target's sys.platform ------------------------------------------------


class _SysView(types.ModuleType):
    """``sys`` as our modules see it: the target's ``platform``, the rest the real one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(sys, name, value)


def _builtins_for_our_code(target: str) -> dict[str, Any]:
    view = _SysView("sys")
    view.__dict__["platform"] = target
    real_import = builtins.__import__

    def our_import(name: str, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        module = real_import(name, globals, locals, fromlist, level)
        return view if name == "sys" and level == 0 else module

    ours = dict(vars(builtins))
    ours["__import__"] = our_import
    return ours


class _OurLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, our_builtins: dict[str, Any]) -> None:
        self._inner = inner
        self._builtins = our_builtins

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = self._builtins  # exec() keeps a given one
        self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, get_source...
        return getattr(self._inner, name)


class _OurFinder(importlib.abc.MetaPathFinder):
    """Loads ``voicelive_tui`` and its submodules with :func:`_builtins_for_our_code`."""

    def __init__(self, target: str) -> None:
        self._builtins = _builtins_for_our_code(target)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _OurLoader(spec.loader, self._builtins)  # type: ignore[arg-type]
        return spec


# -- Windows ----------------------------------------------------------------------------------


class _Kernel32:
    """The part of kernel32 our code calls: the console control handler list."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def SetConsoleCtrlHandler(self, routine: Any, add: bool) -> int:  # noqa: N802
        if add:
            self.handlers.append(routine)
        elif routine in self.handlers:
            self.handlers.remove(routine)
        return 1

    def close_console(self) -> None:
        """What Windows does when the console window closes: each handler, newest first,
        on a thread of its own; after one returns TRUE, the process ends."""
        for routine in reversed(list(self.handlers)):
            if routine(CTRL_CLOSE_EVENT):
                os._exit(CLOSED_STATUS)
        os._exit(CLOSED_STATUS)  # the default handler: ExitProcess


def _not_on_windows(*_args: Any, **_kwargs: Any) -> None:
    raise NotImplementedError


def _keep_host_socketpair() -> None:
    """``socket.socketpair()`` (the event loop's self-pipe) reads ``AF_UNIX`` at call
    time and, without it, asks Linux for an AF_INET pair, which Linux refuses; Windows'
    ``socket.py`` emulates that pair in Python instead. Keep the host's working pair."""
    host_pair, unix = socket.socketpair, socket.AF_UNIX

    def socketpair(family: Any = None, type: Any = socket.SOCK_STREAM, proto: int = 0) -> Any:  # noqa: A002
        return host_pair(unix if family is None else family, type, proto)

    socket.socketpair = socketpair  # type: ignore[assignment]


def _simulate_windows() -> None:
    import asyncio.unix_events

    kernel32 = _Kernel32()
    close_signal = signal.SIGUSR2

    def on_close_signal(_signum: int, _frame: Any) -> None:
        threading.Thread(target=kernel32.close_console, name="console-close").start()

    signal.signal(close_signal, on_close_signal)

    keep = set(WINDOWS_SIGNALS)
    for name in dir(signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and name not in keep:
            delattr(signal, name)
    _remove(signal, WINDOWS_SIGNAL_FUNCTIONS)
    windows = {name: getattr(signal.Signals, name).value for name in WINDOWS_SIGNALS}
    windows.update(SIGBREAK=21, CTRL_C_EVENT=0, CTRL_BREAK_EVENT=1)
    signal.Signals = enum.IntEnum("Signals", windows)  # type: ignore[misc]
    for name in windows:
        setattr(signal, name, getattr(signal.Signals, name))
    _remove(os, POSIX_ONLY_OS)
    os.O_BINARY = 0  # type: ignore[attr-defined]
    _keep_host_socketpair()
    _remove(socket, POSIX_ONLY_SOCKET)
    for name in WINDOWS_MISSING_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]
    loop_class = asyncio.unix_events._UnixSelectorEventLoop  # noqa: SLF001
    loop_class.add_signal_handler = _not_on_windows  # type: ignore[method-assign]
    loop_class.remove_signal_handler = _not_on_windows  # type: ignore[method-assign]
    ctypes.WINFUNCTYPE = ctypes.CFUNCTYPE  # type: ignore[attr-defined]
    ctypes.windll = types.SimpleNamespace(kernel32=kernel32)  # type: ignore[attr-defined]


def _darwin_kernel_answers_connection_info() -> None:
    """``getsockopt(IPPROTO_TCP, TCP_CONNECTION_INFO)`` answered as xnu does: a
    ``struct tcp_connection_info`` whose ``tcpi_srtt`` is this kernel's smoothed round
    trip (Linux's ``tcpi_rtt``, in whole ms, at least 1) and whose other fields, the
    most recent RTT (``tcpi_rttcur``) among them, hold values no loopback RTT has, so a
    reader at the wrong offset reports a wrong number."""
    host_getsockopt = socket.socket.getsockopt
    linux_tcp_info = socket.TCP_INFO

    def getsockopt(self: socket.socket, level: int, option: int, *buflen: int) -> Any:
        if level != socket.IPPROTO_TCP or option != DARWIN_TCP_CONNECTION_INFO or not buflen:
            return host_getsockopt(self, level, option, *buflen)
        (rtt_us,) = struct.unpack_from("=I", host_getsockopt(self, level, linux_tcp_info, 104), 68)
        srtt_ms = max(1, math.ceil(rtt_us / 1000))
        state, other, rttcur, counters = 4, 0xDEAD, 9999, [0xDEAD] * 7
        info = struct.pack(
            "=4B13I7Q", state, 0, 0, 0, *[other] * 9, rttcur, srtt_ms, other, 0, *counters
        )
        return info[: buflen[0]]

    socket.socket.getsockopt = getsockopt  # type: ignore[assignment,method-assign]


def _simulate_darwin() -> None:
    _darwin_kernel_answers_connection_info()
    _remove(signal, LINUX_ONLY_SIGNAL)
    _remove(os, LINUX_ONLY_OS)
    _remove(socket, LINUX_ONLY_SOCKET)
    socket.TCP_CONNECTION_INFO = DARWIN_TCP_CONNECTION_INFO  # type: ignore[attr-defined]


SIMULATIONS = {"win32": _simulate_windows, "darwin": _simulate_darwin}


def simulate(target: str) -> None:
    """Apply the simulation of ``target`` to this process (before our code is imported)."""
    if any(name == PACKAGE or name.startswith(PACKAGE + ".") for name in sys.modules):
        raise RuntimeError(f"{PACKAGE} was imported before the simulation")
    for name in HOST_PACKAGES:
        importlib.import_module(name)
    SIMULATIONS[target]()
    sys.meta_path.insert(0, _OurFinder(target))


def main(argv: Sequence[str]) -> None:
    if len(argv) < 2 or argv[0] not in SIMULATIONS:
        sys.exit(f"usage: simulate.py {{{','.join(SIMULATIONS)}}} MODULE [ARGS...]")
    target, module, *args = argv
    simulate(target)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
