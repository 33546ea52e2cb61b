"""Agent activity in the dashboard's conversation panel, against the in-process emulator."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static

from voicelive_tui.ui.widgets.approval import ApprovalScreen

from .conftest import SIZE, wait_for
from .test_dashboard import turn_texts

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def test_a_function_call_shows_in_the_conversation(emulator, dashboard):
    dash = dashboard(emulator, greeting=False, tools=(WEATHER,), tool_output='{"sky": "clear"}')
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("t")
        await pilot.press(*"get_weather in Paris", "enter")
        await wait_for(
            pilot,
            lambda: any("the sky is clear" in t for t in turn_texts(app)),
            what="the answer using the tool's output",
        )
        texts = turn_texts(app)
    call = next(i for i, t in enumerate(texts) if "⚙ called get_weather(city=Paris)" in t)
    assert '→ {"sky": "clear"}' in texts[call]
    # How long the call took: "400 ms", or "2.3 s" on a busy machine.
    assert re.search(r" · \d+(\.\d)? m?s$", texts[call].splitlines()[-1]), texts[call]
    assert "(no transcript)" not in texts[call]
    answer = next(i for i, t in enumerate(texts) if "the sky is clear" in t)
    assert call < answer


DEEPWIKI = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.deepwiki.com/mcp",
    "require_approval": "always",
}


async def ask_for_approval(pilot, app) -> ApprovalScreen:
    await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
    await pilot.press("t")
    await pilot.press(*"ask_question about retries", "enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, ApprovalScreen) and app.screen.query("#approval-text"),
        what="the approval prompt",
    )
    return app.screen


@pytest.mark.parametrize(
    "key, said",
    [("y", "I asked deepwiki with ask question, and it says:"), ("n", "did not approve")],
)
async def test_an_mcp_approval_is_answered_from_the_keyboard(emulator, dashboard, key, said):
    dash = dashboard(emulator, greeting=False, tools=(DEEPWIKI,))
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        prompt = await ask_for_approval(pilot, app)
        body = str(prompt.query_one("#approval-text", Static).content)
        assert "deepwiki" in body and "ask_question" in body and "retries" in body
        await wait_for(pilot, lambda: app.status_bar.view.approvals == "1 approval pending")
        await pilot.press(key)
        await wait_for(
            pilot, lambda: any(said in t for t in turn_texts(app)), what="the spoken result"
        )
        assert not isinstance(app.screen, ApprovalScreen)
        assert app.status_bar.view.approvals is None
    verdict = "approved" if key == "y" else "denied"
    log = next((dash.settings.log_dir).glob("*_conversation.log")).read_text(encoding="utf-8")
    assert f"Approval:\t{verdict} deepwiki.ask_question(" in log


async def test_an_unanswered_approval_never_blocks_and_quits_cleanly(emulator, dashboard):
    dash = dashboard(emulator, greeting=False, tools=(DEEPWIKI,))
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await ask_for_approval(pilot, app)
        # The dashboard goes on behind the prompt: the agent's turn shows the waiting call.
        await wait_for(
            pilot,
            lambda: any("awaits approval" in t for t in turn_texts(app)),
            what="the call waiting in the conversation",
        )
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, what="the app to quit")
    assert app.return_code == 0
    assert emulator.latest.counts["conversation.item.create"] == 0  # no approval answer
    assert emulator.latest.counts["input_text.done"] == 1  # the typed message, streamed
