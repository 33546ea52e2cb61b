"""The key bar keeps the essential keys on screen at any width (issue 27, item 5)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.scaffold.replay import scripted_app, settle
from voicelive_tui.ui.widgets.keys import ESSENTIAL, fit_keys, key_cells

ESSENTIAL_LABELS = ("? Help", "q Quit", "m Mute", "space Interrupt", "t Type")


def bar_text(app) -> str:
    return app.dashboard.query_one("#keys").render().plain


@pytest.mark.parametrize("size", [(80, 24), (60, 18), (120, 36)])
async def test_the_essential_keys_show_at_every_width(tmp_path: Path, size: tuple[int, int]):
    app = scripted_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = bar_text(app)
        for label in ESSENTIAL_LABELS:
            assert label in shown, f"{label!r} missing from the key bar at {size}: {shown!r}"
        assert len(shown) <= size[0]


async def test_keys_that_do_not_fit_are_still_in_help(tmp_path: Path):
    app = scripted_app(tmp_path)
    async with app.run_test(size=(60, 18)) as pilot:
        await settle(pilot)
        assert "Export" not in bar_text(app)  # folded away at 60 columns
        await pilot.press("question_mark")
        await pilot.pause()
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#help-keys").content)
        help_text = console.export_text()
        assert "Save the conversation as Markdown" in help_text


def keys(*pairs: tuple[str, str]) -> list[tuple[str, str, str, bool]]:
    return [(key, key, description, True) for key, description in pairs]


def test_fit_keys_gives_way_from_the_least_important():
    bar = keys(("m", "Mute"), ("c", "Clear"), ("q", "Quit"), ("question_mark", "Help"))
    actions = {"m": "mute", "c": "clear_events", "q": "quit", "question_mark": "help"}
    full = sum(key_cells(k[1], k[2], True) for k in bar)
    assert fit_keys(bar, actions, full, True) == (bar, False)
    # One cell short: the non-essential key goes first; bar order is kept.
    assert fit_keys(bar, actions, full - 1, True) == ([bar[0], bar[2], bar[3]], True)
    # Room for one key: help, the first of the essentials.
    help_only = key_cells("question_mark", "Help", True)
    assert fit_keys(bar, actions, help_only, True) == ([bar[3]], True)
    assert ESSENTIAL[:2] == ("help", "quit")
