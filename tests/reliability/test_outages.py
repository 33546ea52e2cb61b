"""Servers that hang, close at once, cut the socket, send too much or go silent: the
client never hangs, never storms, names the cause, and always lets the user quit
(issue 10, defects 5, 6 and 12)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from tests.helpers import wait_until
from tests.integration.session_helpers import running_session
from tests.reliability.badserver import bad_server
from tests.reliability.harness import (
    FAST_NET,
    Console,
    Terminal,
    client_args,
    read_logs,
    run_console,
)
from voicelive_tui.conversation.reducer import ConnectionState

QUIT_TIMEOUT_S = 20.0
"""A quit is waited for, not timed (a loaded machine's exit takes what it takes)."""
NO_GIVING_UP = ("--handshake-timeout", "120")
"""A handshake time-out far beyond QUIT_TIMEOUT_S: a quit that waited for it fails."""


async def test_failed_starts_exit_4_with_one_line_and_never_hang(tmp_path: Path) -> None:
    """Never answering the handshake, cutting it, or nothing listening: exit 4 after three
    attempts, one line that says why, no "Connection lost" (nothing was connected)."""
    async with bad_server("hang") as gone:
        nothing_listening = gone.endpoint  # a port that was ours: nothing listens there now

    async def start(endpoint: str, name: str) -> tuple[int, str, str, float]:
        began = time.monotonic()
        log_dir = tmp_path / name
        code, out, err = await run_console(
            *client_args(endpoint, log_dir, "--no-audio", *FAST_NET), timeout=15
        )
        assert "Connection lost" not in out + read_logs(log_dir).get("conversation.log", "")
        return code, out, err, time.monotonic() - began

    async with bad_server("hang") as hang, bad_server("drop-handshake") as drop:
        results = await asyncio.gather(
            start(hang.endpoint, "hang"),
            start(drop.endpoint, "drop"),
            start(nothing_listening, "nothing"),
        )
        assert hang.handshakes == 3
        assert 3 <= drop.handshakes <= 6  # aiohttp retries a GET cut before any answer once
    reasons = [
        "did not answer the WebSocket handshake within 0.3 s",
        "Failed to establish WebSocket connection: Server disconnected",
        "Failed to establish WebSocket connection: Cannot connect to host",
    ]
    for (code, out, err, took), reason in zip(results, reasons, strict=True):
        assert code == 4, err
        assert err.count("\n") == 1 and "after 3 attempts" in err and reason in err, err
        assert "Traceback" not in out + err
        assert took < 20, took  # 3 x 0.3 s plus back-off, not 3 x 300 s


async def test_ctrl_c_and_sigterm_cancel_a_hanging_connect_at_once(tmp_path: Path) -> None:
    async with bad_server("hang") as srv:
        consoles = {
            sig: await Console.start(
                *client_args(srv.endpoint, tmp_path / sig.name, "--no-audio", *NO_GIVING_UP)
            )
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            await wait_until(lambda: srv.handshakes == 2, 10.0, "both clients to be connecting")
            for sig, console in consoles.items():
                console.signal(sig)
            # Well before the handshake's own time-out could end the attempt.
            codes = [await c.wait(QUIT_TIMEOUT_S) for c in consoles.values()]
        finally:
            for console in consoles.values():
                await console.kill()
    assert codes == [0, 0], [c.err for c in consoles.values()]
    assert srv.handshakes == 2  # cancelled, not timed out and retried
    assert all("Traceback" not in c.err and "Unclosed" not in c.err for c in consoles.values())


async def test_dashboard_quits_while_connecting_without_a_leak(tmp_path: Path) -> None:
    async with bad_server("hang") as srv:
        term = await Terminal.start(
            *client_args(srv.endpoint, tmp_path, "--no-audio", *NO_GIVING_UP)
        )
        try:
            await wait_until(lambda: srv.handshakes == 1, 10.0, "the dashboard to connect")
            await term.wait_output("connecting")
            term.send("q")
            code = await term.wait(QUIT_TIMEOUT_S)  # before the handshake's time-out
        finally:
            term.kill()
    assert code == 0
    assert srv.handshakes == 1
    assert term.restored()
    assert "Unclosed client session" not in term.text


async def test_accept_and_close_backs_off_and_says_the_server_keeps_closing(
    tmp_path: Path,
) -> None:
    async with bad_server("close") as srv:
        console = await Console.start(
            *client_args(srv.endpoint, tmp_path, "--no-audio", "--retry-cap", "3")
        )
        try:
            await console.wait_output("keeps closing the connection", timeout=10.0)
            seen = srv.handshakes
            console.signal(signal.SIGINT)
            assert await console.wait(10.0) == 0
        finally:
            await console.kill()
    # 0.5 s, 1 s, 2 s between attempts: three closes need ~3.5 s, not a storm.
    assert seen == 3, seen
    log = read_logs(tmp_path)["conversation.log"]
    assert log.count("Connection lost:\t") == 3, log


async def test_close_causes_are_named(tmp_path: Path) -> None:
    expected = {
        "abort": "the connection dropped without a close frame (code 1006)",
        "big": "the server sent a message over the client's 4 MB limit (code 1009)",
        "silent": "the server stopped answering keep-alive pings (silent for 0.75 s)",
    }

    async def one(behaviour: str) -> str:
        log_dir = tmp_path / behaviour
        async with bad_server(behaviour) as srv:
            console = await Console.start(
                *client_args(srv.endpoint, log_dir, "--no-audio", *FAST_NET)
            )
            try:
                # Three consoles start at once: under load each takes seconds to connect.
                await wait_until(
                    lambda: "Connection lost:" in read_logs(log_dir).get("conversation.log", ""),
                    QUIT_TIMEOUT_S,
                    f"{behaviour}: a lost connection",
                )
                console.signal(signal.SIGINT)
                assert await console.wait(QUIT_TIMEOUT_S) == 0
            finally:
                await console.kill()
        return read_logs(log_dir)["conversation.log"]

    logs = await asyncio.gather(*(one(b) for b in expected))
    for (behaviour, cause), log in zip(expected.items(), logs, strict=True):
        assert f"Connection lost:\t{cause}" in log, (behaviour, log)


async def test_reconnect_key_is_not_a_lost_connection(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting") as run:
        conv = run.session.conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        run.session.reconnect()
        await run.wait_until(lambda: len(emulator.connections) == 2)
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        assert conv.outages == 0
    log = run.conversation_log()
    assert "Reconnect:\treconnect requested" in log
    assert "Connection lost" not in log
