"""The round-trip time in the status bar: a figure where the kernel gives one, "n/a" where
it does not (Windows, or a kernel that refuses the option), nothing before it was asked."""

from __future__ import annotations

import asyncio
import socket
import sys
from types import SimpleNamespace

import pytest
from textual.app import App, ComposeResult

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.upkeep import sample_rtt
from voicelive_tui.ui.view import AudioStatus, status_view
from voicelive_tui.ui.widgets.status import StatusBar, StatusView


class Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


def v2v_field(bar: StatusBar, view: StatusView) -> str:
    return next((t.plain for t in bar.fields(view) if t.plain.startswith("v2v ")), "")


async def sampled(conv: Conversation, sock: socket.socket) -> None:
    """One sample of ``sample_rtt`` on a connection shaped like the SDK's (aiohttp's)."""
    transport = SimpleNamespace(get_extra_info=lambda name: sock if name == "socket" else None)
    conn = SimpleNamespace(_connection=SimpleNamespace(_conn=SimpleNamespace(transport=transport)))
    task = asyncio.create_task(sample_rtt(conn, conv))
    await asyncio.sleep(0)
    task.cancel()


@pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's TCP_INFO first")
async def test_rtt_shown_where_the_kernel_offers_it_and_na_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            linux, windows = Conversation(), Conversation()
            await sampled(linux, client)
            with monkeypatch.context() as patch:
                patch.setattr(sys, "platform", "win32")
                await sampled(windows, client)
    assert linux.rtt_ms is not None and not linux.rtt_unavailable
    assert windows.rtt_ms is None and windows.rtt_unavailable
    async with Bar().run_test() as pilot:
        bar = pilot.app.query_one(StatusBar)
        view = status_view(windows, AudioStatus(), host="h", mode="m", now=0.0)
        assert v2v_field(bar, view) == "v2v – (rtt n/a)"
        assert v2v_field(bar, StatusView()) == "v2v –"  # not asked yet: nothing
        assert v2v_field(bar, StatusView(rtt_ms=12.3)) == "v2v – (rtt 12 ms)"
