"""SVG snapshots of the dashboard from the deterministic scripted session.

Update them with ``pytest tests/ui/test_snapshots.py --snapshot-update`` after a change
you have looked at.
"""

from __future__ import annotations

from pathlib import Path

from tests.scaffold.replay import scripted_app, settle, show_latency, show_usage


async def press_help(pilot) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


def test_main_screen_120x36(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=settle)


def test_main_screen_80x24(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=settle)


def test_help_screen(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=press_help)


def test_latency_view_160x48(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(160, 48), run_before=show_latency)


def test_latency_view_80x24(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=show_latency)


def test_usage_view_160x48(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(160, 48), run_before=show_usage)


def test_usage_view_80x24(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=show_usage)
