"""SVG snapshots of agent activity in the dashboard (a scripted session): the conversation
panel with a function call, and the MCP approval prompt over it.

Update them with ``pytest tests/ui/test_tool_snapshots.py --snapshot-update`` after a
change you have looked at.
"""

from __future__ import annotations

from pathlib import Path

from tests.scaffold.replay import settle
from voicelive_tui.ui.widgets.approval import ApprovalScreen

from .tool_replay import tool_replay_app


async def prompt_open(pilot) -> None:
    await settle(pilot)
    for _ in range(200):
        if isinstance(pilot.app.screen, ApprovalScreen):
            break
        await pilot.pause(0.02)
    await pilot.pause()


def test_function_call_in_the_conversation(snap_compare, tmp_path: Path):
    app = tool_replay_app(tmp_path, approval=False)
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


def test_tool_activity_and_approval_prompt(snap_compare, tmp_path: Path):
    assert snap_compare(tool_replay_app(tmp_path), terminal_size=(120, 36), run_before=prompt_open)
