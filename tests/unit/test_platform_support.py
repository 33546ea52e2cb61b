"""The platform module: Windows' quit path (console control events and Ctrl+C through
``signal.signal``), the RTT structures of Linux and macOS, log privacy and "Linux only"."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path

import pytest

from voicelive_tui import platform_support
from voicelive_tui.platform_support import (
    CTRL_CLOSE_EVENT,
    CTRL_LOGOFF_EVENT,
    CTRL_SHUTDOWN_EVENT,
    ConsoleControl,
    QuitSignal,
    log_privacy,
    quit_signals,
    rtt_from_darwin_connection_info,
    rtt_from_linux_tcp_info,
    run_loop,
    tcp_rtt_ms,
)

CTRL_C_EVENT, CTRL_BREAK_EVENT = 0, 1
ON_LINUX = pytest.mark.skipif(
    sys.platform != "linux", reason="POSIX signals, Linux's TCP_INFO and file modes"
)


async def test_console_close_quits_as_sighup_and_holds_windows_until_the_quit_is_done() -> None:
    loop = asyncio.get_running_loop()
    quits: list[tuple[QuitSignal, bool]] = []
    control = ConsoleControl(
        loop,
        lambda name: quits.append((name, threading.current_thread() is threading.main_thread())),
    )
    returned: list[bool] = []
    # Windows runs the handler on a thread of its own, and ends the process once it returns.
    windows = threading.Thread(target=lambda: returned.append(control(CTRL_CLOSE_EVENT)))
    windows.start()
    while not quits:
        await asyncio.sleep(0.01)
    assert quits == [("SIGHUP", True)]  # on the loop's thread
    await asyncio.sleep(0.1)
    assert returned == [] and windows.is_alive()  # still holding: the logs are not written
    control.finished()
    await asyncio.to_thread(windows.join, 5)
    assert returned == [True]


@pytest.mark.parametrize(
    ("event", "expected"),
    [(CTRL_LOGOFF_EVENT, "SIGTERM"), (CTRL_SHUTDOWN_EVENT, "SIGTERM")],
)
async def test_log_off_and_shut_down_quit_as_sigterm(event: int, expected: str) -> None:
    quits: list[str] = []
    control = ConsoleControl(asyncio.get_running_loop(), quits.append)
    control.finished()  # nothing to wait for: the handler returns at once
    assert await asyncio.to_thread(control, event) is True
    await asyncio.sleep(0)
    assert quits == [expected]


@pytest.mark.parametrize("event", [CTRL_C_EVENT, CTRL_BREAK_EVENT])
async def test_ctrl_c_and_ctrl_break_are_left_to_the_signal_module(event: int) -> None:
    quits: list[str] = []
    control = ConsoleControl(asyncio.get_running_loop(), quits.append, grace_s=5)
    assert await asyncio.to_thread(control, event) is False
    await asyncio.sleep(0.05)
    assert quits == []


async def test_a_closed_loop_does_not_hold_windows() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    control = ConsoleControl(loop, lambda name: None, grace_s=30)
    assert await asyncio.to_thread(control, CTRL_CLOSE_EVENT) is True


@ON_LINUX
async def test_without_loop_signal_handlers_ctrl_c_quits_through_the_signal_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows' event loops raise NotImplementedError for add_signal_handler.
    loop = asyncio.get_running_loop()

    def not_here(*_args: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_signal_handler", not_here)
    before = signal.getsignal(signal.SIGINT)
    quits: list[str] = []
    with quit_signals(quits.append):
        assert signal.getsignal(signal.SIGINT) is not before
        os.kill(os.getpid(), signal.SIGINT)
        while not quits:
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)
        while len(quits) < 2:
            await asyncio.sleep(0.01)
    assert quits == ["SIGINT", "SIGTERM"]
    assert signal.getsignal(signal.SIGINT) is before  # given back


@ON_LINUX
async def test_loop_signal_handlers_where_the_loop_has_them() -> None:
    quits: list[str] = []
    before = signal.getsignal(signal.SIGHUP)
    with quit_signals(quits.append):
        os.kill(os.getpid(), signal.SIGHUP)
        while not quits:
            await asyncio.sleep(0.01)
    assert quits == ["SIGHUP"]
    assert signal.getsignal(signal.SIGHUP) is before


def test_rtt_from_macos_tcp_connection_info() -> None:
    # xnu netinet/tcp.h: state, snd_wscale, rcv_wscale, pad; options, flags, rto, maxseg,
    # snd_ssthresh, snd_cwnd, snd_wnd, snd_sbbytes, rcv_wnd, rttcur, srtt, rttvar, TFO bits;
    # seven 8-aligned u_int64_t counters.
    info = struct.pack(
        "=4B13I7Q", 4, 6, 6, 0, 7, 0, 230, 16344, 1 << 30, 65536, 400000, 0, 400000,
        31, 37, 9, 0, *range(7),
    )  # fmt: skip
    assert len(info) == platform_support.DARWIN_CONNECTION_INFO_SIZE
    assert rtt_from_darwin_connection_info(info) == 37.0  # tcpi_srtt, not tcpi_rttcur (31)
    assert rtt_from_darwin_connection_info(info[:40]) is None


def test_rtt_from_linux_tcp_info() -> None:
    info = bytearray(104)
    struct.pack_into("=I", info, 68, 1500)  # tcpi_rtt, µs
    assert rtt_from_linux_tcp_info(bytes(info)) == 1.5
    assert rtt_from_linux_tcp_info(bytes(info[:60])) is None


@ON_LINUX
def test_rtt_is_read_from_linux_and_unknown_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            rtt = tcp_rtt_ms(client)
            assert rtt is not None and 0 <= rtt < 100
            # Linux refuses macOS's option, and Windows has none: "n/a", never a number.
            for other in ("darwin", "win32", "freebsd14"):
                monkeypatch.setattr(sys, "platform", other)
                assert tcp_rtt_ms(client) is None


async def _loop_and_rtt() -> tuple[str, float | None]:
    """The running loop's class, and the RTT of a loopback connection made on it."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    rtt = tcp_rtt_ms(writer.transport.get_extra_info("socket"))
    writer.close()
    server.close()
    return type(asyncio.get_running_loop()).__module__, rtt


@ON_LINUX
def test_the_app_runs_on_uvloop_where_it_exists_and_on_asyncio_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where it runs (Linux, macOS): uvloop, and the status bar's RTT is still read through
    # the socket uvloop's transport gives (a stand-in for the real one).
    module, rtt = run_loop(_loop_and_rtt())
    assert module.startswith("uvloop")
    assert rtt is not None and 0 <= rtt < 100
    monkeypatch.setattr(sys, "platform", "win32")  # no uvloop there: asyncio's own loop
    module, _ = run_loop(_loop_and_rtt())
    assert module.startswith("asyncio")


@ON_LINUX
def test_log_privacy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    profile = tmp_path / "Users" / "me"
    profile.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(profile))
    assert log_privacy(tmp_path / "elsewhere") == (True, "")  # POSIX: by file modes
    monkeypatch.setattr(sys, "platform", "win32")
    private, note = log_privacy(profile / "project" / "logs")
    assert private and "private through your profile folder" in note
    private, note = log_privacy(tmp_path / "shared" / "logs")
    assert not private
    assert "outside your profile folder" in note and "--log-dir" in note


@ON_LINUX
def test_linux_only_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert platform_support.linux_only("PulseAudio forwarding over SSH") == ""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert platform_support.linux_only("PulseAudio forwarding over SSH") == (
        "PulseAudio forwarding over SSH: Linux only (not available on macOS)"
    )


@pytest.mark.parametrize(
    ("command", "posix", "windows"),
    [
        ("python my_tools.py", ["python", "my_tools.py"], ["python", "my_tools.py"]),
        (
            r'python "C:\My tools\weather.py" --x',
            ["python", r"C:\My tools\weather.py", "--x"],  # kept inside double quotes
            ["python", r"C:\My tools\weather.py", "--x"],
        ),
        (
            r"C:\Python312\python.exe t.py",
            [r"C:Python312python.exe", "t.py"],
            [r"C:\Python312\python.exe", "t.py"],
        ),
    ],
)
def test_tool_command_words_by_the_platforms_rules(
    command: str, posix: list[str], windows: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert platform_support.command_argv(command) == posix
    monkeypatch.setattr(sys, "platform", "win32")
    assert platform_support.command_argv(command) == windows


@pytest.mark.parametrize("target", ["linux", "win32"])
def test_an_unclosed_quote_is_a_value_error(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", target)
    with pytest.raises(ValueError):
        platform_support.command_argv('python "unclosed.py')
