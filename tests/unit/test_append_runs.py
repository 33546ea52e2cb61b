"""The events log's runs of microphone appends (issue 26): one line per run instead of one
per 20 ms block, read back by ``--replay`` and the latency stages exactly as the lines of
one append each that the log held before (a log written before runs still replays)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.logs import (
    APPEND_RUN_S,
    APPENDS,
    PLAYBACK_STARTED,
    EventsJsonl,
    Redactor,
    per_event,
)
from voicelive_tui.protocol import APPEND, audio_bytes
from voicelive_tui.replay import Recorded, read_events

RECORDED = Path(__file__).parents[1] / "ui" / "data" / "turns_events.jsonl"
"""A real session (tests/scaffold/record_turns.py), written one line per append."""
T0 = 1_764_900_000.0


class Kept(io.StringIO):
    """A file in memory whose text outlives its closing."""

    text = ""

    def write(self, s: str) -> int:
        self.text += s
        return super().write(s)


def events_log() -> tuple[EventsJsonl, Kept]:
    out = Kept()
    return EventsJsonl(Path("events.jsonl"), out, Redactor([])), out


def lines(out: Kept) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.text.splitlines()]


def write_both_ways(session: list[Recorded], path: Path) -> tuple[Path, Path]:
    """``session`` written as before runs (every event through ``record``, appends with
    their base64 audio) and as now (microphone appends through ``record_append``)."""
    before, after = path / "before_events.jsonl", path / "after_events.jsonl"
    for target, runs in ((before, False), (after, True)):
        log, out = events_log()
        for rec in session:
            if rec.event.get("type") == APPEND and rec.direction == "sent":
                size = audio_bytes(rec.event)
                if runs:
                    log.record_append(size, rec.at)
                    continue
                event = {"audio": base64.b64encode(bytes(size)).decode(), "type": APPEND}
                log.record("sent", event, rec.at)
            else:
                log.record(rec.direction, rec.event, rec.at)
        log.close()
        target.write_text(out.text)
    return before, after


def derived(events: list[Recorded]) -> dict[str, Any]:
    """What a replay shows that appends feed: the latency stages, the timeline's lanes,
    the audio sent and the counts (the events go through the reducer as ``--replay``
    feeds them)."""
    conv = Conversation()
    for rec in events:
        if rec.direction == "local":
            if rec.event.get("type") == PLAYBACK_STARTED:
                conv.playback_started(str(rec.event.get("item_id")), rec.at)
        elif rec.direction == "sent":
            conv.apply_sent(rec.event, rec.at)
        else:
            conv.apply_received(rec.event, rec.at)
    tl = conv.timeline
    return {
        "stages": [(t.kind, t.item_id, t.stages(), t.estimated) for t in conv.latencies],
        "sent": [(s.start, s.end) for s in tl.sent],
        "user": [(u.start, u.end, u.why, u.item_id) for u in tl.user],
        "vad": [(s.start, s.end) for s in tl.vad],
        "agent": [(a.start, a.end, a.item_id) for a in tl.agent],
        "audio_in_bytes": conv.audio_in_bytes,
        "sent_counts": dict(conv.sent),
        "appended_ms": conv.timer.capture_clock.appended_ms,
    }


def test_the_recorded_session_replays_the_same_from_runs(tmp_path: Path) -> None:
    session = read_events(RECORDED)
    appends = sum(1 for r in session if r.event.get("type") == APPEND)
    assert appends > 100 and any(r.direction == "local" for r in session)
    before, after = write_both_ways(session, tmp_path)
    assert len(after.read_text().splitlines()) < len(before.read_text().splitlines()) - appends / 2
    assert read_events(after) == read_events(before) == session
    assert derived(read_events(after)) == derived(read_events(before))
    # The latency stages are there to compare: the session has timed spoken turns.
    assert any(kind == "voice" and stages for kind, _, stages, _ in derived(session)["stages"])


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0001, 0.7), min_size=1, max_size=200),
    sizes=st.lists(st.sampled_from([960, 1920, 480, 4800]), min_size=1, max_size=4),
    others=st.sets(st.integers(0, 199), max_size=8),
)
def test_appends_with_jitter_gaps_and_sizes_read_the_same(
    gaps: list[float], sizes: list[int], others: set[int]
) -> None:
    """Blocks of several sizes, 0.1 ms to 0.7 s apart (mute and push to talk leave gaps with
    no other event), other events between some: the same events at the same stamps."""
    session: list[Recorded] = []
    at = T0
    for n, gap in enumerate(gaps):
        at += gap
        if n in others:
            session.append(Recorded(at, "received", {"type": "input_audio_buffer.speech_started"}))
        size = sizes[n * len(sizes) // len(gaps)]
        session.append(Recorded(at, "sent", {"audio": f"<{size} bytes>", "type": APPEND}))
    with_runs, runs_out = events_log()
    without, plain_out = events_log()
    for rec in session:
        if rec.event["type"] == APPEND:
            with_runs.record_append(audio_bytes(rec.event), rec.at)
            without.record("sent", {"audio": "AAAA" * (audio_bytes(rec.event) // 3)}, rec.at)
        else:
            with_runs.record(rec.direction, rec.event, rec.at)
            without.record(rec.direction, rec.event, rec.at)
    with_runs.close()
    without.close()
    expanded = [e for line in lines(runs_out) for e in per_event(line)]
    plain = lines(plain_out)
    for entry in plain:  # the same event as a microphone append's
        if "audio" in entry["event"]:
            entry["event"]["type"] = APPEND
    assert expanded == plain


def test_a_run_is_written_each_second_before_other_lines_and_at_a_new_size() -> None:
    log, out = events_log()
    for n in range(125):  # 2.5 s of 20 ms blocks
        log.record_append(960, T0 + n * 0.02)
    written = lines(out)
    # Once a second while the appends go on: a killed process loses at most a second.
    assert [e[APPENDS]["count"] for e in written] == [51, 51]
    assert written[0][APPENDS]["bytes"] == 51 * 960
    assert written[0][APPENDS]["at_ms"][:3] == [0, 20, 40]
    log.record("received", {"type": "input_audio_buffer.speech_started"}, T0 + 2.5)
    log.record_append(1920, T0 + 2.52)  # the echo reference switched on: two channels
    log.record_append(960, T0 + 2.54)
    log.flush()
    written = lines(out)
    assert [(e.get(APPENDS) or {}).get("count") for e in written[2:]] == [23, None, 1, 1]
    assert written[3]["event"]["type"] == "input_audio_buffer.speech_started"
    assert [e[APPENDS]["block"] for e in written[4:]] == [1920, 960]
    assert sum(e[APPENDS]["count"] for e in written if APPENDS in e) == 127


def test_a_run_is_written_at_close(tmp_path: Path) -> None:
    log, out = events_log()
    log.record_append(960, T0)
    log.record_append(960, T0 + APPEND_RUN_S / 2)
    assert out.text == ""  # waiting for more
    log.close()
    (line,) = lines(out)
    assert line[APPENDS]["count"] == 2
    assert [e["time"] for e in per_event(line)] == [line[APPENDS]["first"], line[APPENDS]["last"]]
