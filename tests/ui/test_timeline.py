"""The timeline view (g) of a recorded session (``--replay`` of tests/ui/data, made by
tests/scaffold/record_turns.py): snapshots at 160x48 and 80x24, and its lanes at the
columns of the events log's times."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

import pytest

from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.replay import load_replay
from voicelive_tui.sources import replay_source
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.widgets.timeline_view import LABEL, TimelineScreen, right_edge, window_s

from .conftest import wait_for

EVENTS = Path(__file__).parent / "data" / "turns_events.jsonl"


def replay_app(tmp_path: Path) -> VoiceLiveApp:
    settings = Settings(replay=EVENTS, log_dir=tmp_path / "logs", speed=50.0)
    logs = RunLogs(tmp_path / "replay-logs")
    return VoiceLiveApp(
        settings,
        source=replay_source(load_replay(EVENTS), 50.0),
        logs=logs,
        clock=WallClock(offset=0.0, tz=timezone.utc),
    )


async def show_timeline(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.session is not None and app.session.finished.is_set(), 30)
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen) and app.screen.drawn)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_timeline_snapshot(snap_compare, tmp_path: Path, size):
    assert snap_compare(replay_app(tmp_path), terminal_size=size, run_before=show_timeline)


def column(at: float, now: float, plot: int) -> int:
    span = window_s(plot + LABEL)
    edge = right_edge(now, plot + LABEL)
    return int((at - (edge - span)) / span * plot)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_lanes_are_where_the_events_log_puts_them(tmp_path: Path, size):
    events = load_replay(EVENTS).events
    at = {}
    for recorded in events:
        at.setdefault(recorded.event.get("type"), recorded.at)
    app = replay_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await show_timeline(pilot)
        now = app.session.clock()
        lines = [line.plain for line in app.screen.drawn.split("\n")]
    lanes = {line[:LABEL].strip(): line[LABEL:] for line in lines[:6]}
    plot = len(lanes["vad"])
    assert now == pytest.approx(events[-1].at)  # the replay's clock ends at its last event

    def near(lane: str, event: str, glyphs: str) -> bool:
        c = column(at[event], now, plot)
        return any(ch in glyphs for ch in lanes[lane][max(0, c - 1) : c + 2])

    assert near("vad", "input_audio_buffer.speech_started", "█")
    assert near("vad", "input_audio_buffer.committed", "│")
    assert near("you", "input_audio_buffer.speech_started", "wW")  # the transcript's start
    assert near("agent", "playback.started", "▒")
    assert near("agent", "conversation.item.truncate", "✂")
    assert "⟨silence 500 ms⟩" in "\n".join(lines)
    assert "⟨typed⟩" in "\n".join(lines)
