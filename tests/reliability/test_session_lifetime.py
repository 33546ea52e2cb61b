"""Credentials and session lifetime: Entra tokens refreshed while connected, one fresh
token after a 401 at reconnect, and a new session before ``expires_at`` that the user
never notices (issue 10, defects 16 and 17)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential

from tests.integration.session_helpers import RunningSession, make_settings, running_session
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.conversation.summary import session_summary
from voicelive_tui.emulator import Emulator
from voicelive_tui.logs import RunLogs
from voicelive_tui.runner import build_audio, make_session, open_target
from voicelive_tui.session.auth import AuthError


class ShortLivedTokens(AsyncTokenCredential):
    """An AsyncTokenCredential double minting ``tok-1``, ``tok-2``... valid ``lifetime_s``."""

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self.issued: list[str] = []
        self._serial = itertools.count(1)

    def next_token(self) -> str:
        return f"tok-{len(self.issued) + 1}"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = f"tok-{next(self._serial)}"
        self.issued.append(token)
        return AccessToken(token, int(time.time() + self.lifetime_s))

    async def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def entra_session(
    emu: Emulator, tokens: ShortLivedTokens, log_dir: Path, *argv: str
) -> AsyncIterator[RunningSession]:
    """The real session with an Entra ID credential (the double), as the CLI wires it."""
    settings = make_settings(
        "--endpoint", emu.endpoint, "--log-dir", str(log_dir), "--no-audio", *argv
    )
    logs = RunLogs(settings.log_dir)
    try:
        async with open_target(settings, token_credential=tokens) as target:
            session = make_session(settings, target, logs, build_audio(settings))
            run = RunningSession(session, logs)
            session.subscribe(run.observe)
            run.task = asyncio.create_task(session.run())  # type: ignore[attr-defined]
            try:
                yield run
            finally:
                session.quit()
                await asyncio.wait_for(asyncio.shield(run.task), 10)  # type: ignore[attr-defined]
    finally:
        logs.close()


async def test_tokens_are_refreshed_while_connected(emulator: Emulator, tmp_path: Path) -> None:
    tokens = ShortLivedTokens(lifetime_s=2.0)  # refreshed at half-life: every ~1 s
    async with entra_session(emulator, tokens, tmp_path, "--no-greeting") as run:
        conv = run.session.conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        await run.wait_until(lambda: len(tokens.issued) >= 3, timeout=10)
        assert len(emulator.connections) == 1  # fresh tokens without reconnecting
        emulator._token = tokens.issued[-1]  # only the newest token is accepted from now
        run.session.reconnect()
        await run.wait_until(lambda: len(emulator.connections) == 2)
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
    assert emulator.rejected == []  # the next handshake carried a valid token


async def test_a_401_at_reconnect_fetches_one_fresh_token(
    emulator: Emulator, tmp_path: Path
) -> None:
    tokens = ShortLivedTokens(lifetime_s=3600.0)
    async with entra_session(emulator, tokens, tmp_path, "--no-greeting") as run:
        conv = run.session.conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        assert tokens.issued == ["tok-1"]
        emulator._token = tokens.next_token()  # the service revoked tok-1
        run.session.reconnect()
        await run.wait_until(lambda: len(emulator.connections) == 2)
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
    assert [r["status"] for r in emulator.rejected] == [401]
    assert tokens.issued == ["tok-1", "tok-2"]


async def test_a_401_with_a_fresh_token_too_is_exit_3(emulator: Emulator, tmp_path: Path):
    tokens = ShortLivedTokens(lifetime_s=3600.0)
    with pytest.raises(AuthError, match="authentication failed"):
        async with entra_session(emulator, tokens, tmp_path, "--no-greeting") as run:
            conv = run.session.conversation
            await run.wait_until(lambda: conv.connection == ConnectionState.READY)
            emulator._token = "accepts-no-token-we-have"
            run.session.reconnect()
            await asyncio.wait_for(asyncio.shield(run.task), 10)  # type: ignore[attr-defined]
    assert [r["status"] for r in emulator.rejected] == [401, 401]


async def test_a_session_is_renewed_before_it_expires(emulator_factory, tmp_path: Path) -> None:
    from voicelive_tui.ui.view import expires_in_label

    emu = await emulator_factory(faults=["session-ttl=4"])
    tokens = ShortLivedTokens(lifetime_s=3600.0)
    agent = ("--agent-name", "helper", "--project-name", "proj")  # the greeting names
    # the agent conversation, which the renewed session continues
    async with entra_session(emu, tokens, tmp_path, *agent) as run:
        conv = run.session.conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        left = conv.expires_in(time.time())
        assert left is not None and 0 < left <= 4
        assert expires_in_label(left) == int(left)  # shown: under five minutes
        first_conversation = emu.connections[0].conversation.id
        await run.wait_until(lambda: len(emu.connections) == 2, timeout=8)
        assert conv.session.conversation_id == first_conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        assert conv.outages == 0
        assert emu.connections[1].query.get("conversation-id") == first_conversation
        assert emu.connections[0].counts["expired"] == 0  # renewed before the server closed
        await run.wait_until(lambda: conv.renewals)
        (renewal,) = conv.renewals
        assert (
            0 < renewal.gap_ms < 4000
            and renewal.kept == f"conversation {first_conversation} continued"
        )
    assert any(n.startswith("Session ends in 0:0") for n in run.notices())
    assert f"Session renewed in {renewal.gap_ms / 1000:.2f} s: conversation" in "\n".join(
        run.notices()
    )
    log = run.conversation_log()
    assert "Reconnect:\tsession renewal" in log
    assert "Connection lost" not in log
    assert expires_in_label(1800.0) is None


# Slow step: a 5 s session lifetime in real time; the agent session's renewal stays fast.
@pytest.mark.slow
async def test_a_model_session_is_renewed_with_its_conversation_replayed(
    emulator_factory, tmp_path: Path
) -> None:
    """Model mode has no conversation id: the text of the turns so far goes into the new
    session, the transcript shows no replayed turn twice, and the gap is recorded."""
    emu = await emulator_factory(faults=["session-ttl=5"])
    async with running_session(emu.endpoint, tmp_path, "--no-greeting", "--no-audio") as run:
        conv = run.session.conversation
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        await run.session.send_text("remember the word marmalade")
        await run.wait_until(lambda: conv.answered_user_turns == 1)
        said = [(t.role, t.text) for t in conv.turns if t.role != "system"]
        await run.wait_until(lambda: conv.renewals, timeout=10)
        assert conv.outages == 0 and len(emu.connections) == 2
        items = emu.connections[1].conversation.items
        assert [(i.role, i.text) for i in items] == [
            ("user" if role == "user" else "assistant", text) for role, text in said
        ]
        assert [(t.role, t.text) for t in conv.turns if t.role != "system"] == said
        (renewal,) = conv.renewals
        assert renewal.kept == "2 earlier turns replayed as text (model mode: no conversation id)"
        assert 0 < renewal.gap_ms < 5000
        summary = session_summary(conv)
    assert summary["renewals"] == [{"gap_ms": round(renewal.gap_ms, 1), "kept": renewal.kept}]
    assert any("earlier turns replayed as text" in n for n in run.notices())


async def test_the_status_bar_shows_the_time_left() -> None:
    from textual.app import App, ComposeResult

    from voicelive_tui.ui.widgets.status import StatusBar, StatusView

    class Bar(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusBar()

    async with Bar().run_test() as pilot:
        bar = pilot.app.query_one(StatusBar)
        shown = " ".join(t.plain for t in bar.fields(StatusView(expires_in_s=75)))
        assert "session ends in 1:15" in shown
        assert "session ends" not in " ".join(t.plain for t in bar.fields(StatusView()))
