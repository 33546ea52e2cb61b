"""SVG snapshots of the dashboard from the deterministic scripted session.

Update them with ``pytest tests/ui/test_snapshots.py --snapshot-update`` after a change
you have looked at.
"""

from __future__ import annotations

from pathlib import Path

from tests.scaffold.replay import scripted_app, settle


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


async def show_latency(pilot) -> None:
    from voicelive_tui.latency import TurnTiming

    await settle(pilot)
    timings = pilot.app.session.conversation.latencies
    timings[:] = [
        TurnTiming(speech_end=0, speech_stopped=0.52, response_created=0.57,
                   first_delta=0.78, first_sound=0.80, item_id="a1"),
        TurnTiming(speech_end=10, speech_stopped=10.55, response_created=10.75,
                   first_delta=11.4, first_sound=11.62, item_id="a2"),
        TurnTiming(kind="typed", sent=20.0, first_output=20.35),
        TurnTiming(speech_end=30, speech_stopped=30.5, estimated=True),
    ]  # fmt: skip
    await pilot.press("l")
    await pilot.pause()


def test_latency_view_80x24(snap_compare, tmp_path: Path):
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=show_latency)
