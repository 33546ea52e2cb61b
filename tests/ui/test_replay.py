"""``--replay`` (issue 14): a recorded session, replayed from its events log, shows the
same conversation, events and latencies as the live run did; at 10x it takes no less than
a tenth of the time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from voicelive_tui.config import ConfigError
from voicelive_tui.logs import RunLogs
from voicelive_tui.replay import load_replay
from voicelive_tui.sources import replay_source
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.clock import WallClock

from .conftest import SIZE, wait_for


def shown(app: VoiceLiveApp) -> tuple[list[tuple[str, str, bool]], list[str], list[float]]:
    """What a user reads: the turns, the event stream's types, the turns' latencies."""
    conv = app.session.conversation
    turns = [(t.role, t.text, t.interrupted) for t in conv.turns]
    events = [e.type for e in app.event_log.buffer.entries]
    latencies = [round(t.total_ms or -1) for t in conv.latencies]
    return turns, events, latencies


async def test_a_replay_shows_what_the_live_run_showed(emulator, dashboard, tmp_path: Path):
    live = dashboard(emulator)
    async with live.app.run_test(size=SIZE) as pilot:
        app = live.app
        await wait_for(pilot, lambda: "response.done" in shown(app)[1], what="the greeting")
        await pilot.press("t", *"hello replay", "enter")
        await wait_for(
            pilot,
            lambda: (
                shown(app)[1].count("response.done") == 2 and app.session.conversation.latencies
            ),
            what="the answer",
        )
        await pilot.pause(0.3)
        seen_live = shown(app)
        await pilot.press("q")
    log_dir = live.settings.log_dir
    replay = load_replay(log_dir)
    span = replay.events[-1].at - replay.events[0].at
    logs = RunLogs(tmp_path / "replay-logs")
    app = VoiceLiveApp(
        live.settings, source=replay_source(replay, 10.0), logs=logs, clock=WallClock(0.0)
    )
    async with app.run_test(size=SIZE) as pilot:
        started = time.monotonic()
        await wait_for(pilot, lambda: app.session and app.session.finished.is_set(), 30)
        took = time.monotonic() - started
        await pilot.pause(0.3)  # the last frames drawn
        seen_replayed = shown(app)
        await pilot.press("q")
    logs.close()
    # The events log keeps times to the millisecond: a latency may differ by one or two.
    assert seen_replayed[:2] == seen_live[:2]
    assert len(seen_replayed[2]) == len(seen_live[2])
    assert all(abs(a - b) <= 2 for a, b in zip(seen_replayed[2], seen_live[2], strict=True)), (
        seen_replayed[2],
        seen_live[2],
    )
    assert "hello replay" in str(seen_replayed[0])
    # Its placeholder credential is no secret to mask in what the replay says.
    technical = "".join(p.read_text() for p in (tmp_path / "replay-logs").glob("*voicelive.log"))
    assert "End of the replay: q quits." in technical
    # Paced at x10: never faster than a tenth of the recorded time. How much longer it takes
    # is the machine's load (the wait above has a generous time-out), not the replay's.
    assert took > span / 10 * 0.8, (took, span)


def test_a_file_that_is_not_an_events_log_is_one_clear_error(tmp_path: Path):
    bad = tmp_path / "x_events.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(ConfigError, match="line 1 is not an events-log line"):
        load_replay(bad)
    with pytest.raises(ConfigError, match="no \\*_events.jsonl"):
        load_replay(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None
    with pytest.raises(ConfigError, match="does not exist"):
        load_replay(tmp_path / "missing.jsonl")
