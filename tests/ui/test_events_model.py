"""The event stream's memory: folding, bounding and filtering (pure, no widgets)."""

from __future__ import annotations

import base64
import gc
import json
import tracemalloc
from pathlib import Path

from voicelive_tui.protocol import elide_for_display
from voicelive_tui.ui.events_model import EventBuffer
from voicelive_tui.updates import EventReceived, EventSent


def delta(ms: int = 100) -> dict:
    return {"type": "response.audio.delta", "delta": base64.b64encode(bytes(ms * 48)).decode()}


def append(ms: int = 20) -> dict:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(ms * 48)).decode()}


def test_consecutive_audio_deltas_fold_into_one_line_with_count_and_duration():
    buf = EventBuffer()
    for _ in range(42):
        buf.add("received", delta(200), 0.0)
    assert len(buf.entries) == 1
    assert buf.entries[0].text == "x42, 8.4 s"


def test_appends_fold_across_transcript_deltas_but_not_across_other_events():
    buf = EventBuffer()
    buf.add("sent", append(), 0.0)
    buf.add("received", {"type": "response.audio_transcript.delta", "delta": "Hi"}, 0.1)
    buf.add("sent", append(), 0.2)
    assert [e.type for e in buf.entries] == [
        "input_audio_buffer.append",
        "response.audio_transcript.delta",
    ]
    buf.add("received", {"type": "input_audio_buffer.speech_started", "audio_start_ms": 5}, 0.3)
    buf.add("sent", append(), 0.4)
    assert [e.count for e in buf.entries if e.type == "input_audio_buffer.append"] == [2, 1]


def test_bounded_with_dropped_count():
    buf = EventBuffer(max_entries=10)
    for i in range(25):
        buf.add("received", {"type": "session.updated", "session": {"id": f"s{i}"}}, float(i))
    assert len(buf.entries) == 10 and len(buf.view) == 10
    assert buf.dropped == 15
    assert buf.entries[0].summary.startswith("s15")


def test_filter_by_type_prefix_or_text():
    buf = EventBuffer()
    buf.add("received", {"type": "session.created", "session": {"id": "sess_1"}}, 0.0)
    buf.add("received", {"type": "response.done", "response": {"id": "resp_9"}}, 1.0)
    buf.add("received", {"type": "error", "error": {"message": "boom"}}, 2.0)
    buf.set_filter("resp")
    assert [e.type for e in buf.view] == ["response.done"]
    buf.set_filter("BOOM")
    assert [e.type for e in buf.view] == ["error"]
    buf.add("received", {"type": "error", "error": {"message": "boom again"}}, 3.0)
    assert len(buf.view) == 2
    buf.set_filter("")
    assert len(buf.view) == 4


def transcript(text: str) -> dict:
    return {"type": "response.audio_transcript.delta", "delta": text}


def test_text_deltas_fold_into_one_line_showing_the_newest_text():
    buf = EventBuffer()
    for word in ("Hello", " there,", " how", " are", " you?"):
        buf.add("received", transcript(word), 0.0)
    assert len(buf.entries) == 1
    assert buf.entries[0].text == "x5, 'Hello there, how are you?'"
    buf.add("received", transcript(" " + "long " * 30), 0.1)
    assert len(buf.entries[0].text) < 80  # only the newest part of a long stream is kept


def test_a_batch_reports_folded_lines_and_appended_lines_only():
    buf = EventBuffer()
    first = buf.add_batch([EventSent(append(), 0.0), EventReceived(delta(), 0.1)])
    assert (first.appended, first.removed, first.folded) == (2, 0, [])
    more = buf.add_batch([EventSent(append(), 0.2), EventReceived(delta(), 0.3)] * 3)
    assert more.appended == 0 and more.removed == 0
    assert {e.type for e in more.folded} == {"input_audio_buffer.append", "response.audio.delta"}
    done = buf.add_batch([EventReceived({"type": "response.done"}, 0.4)])
    assert (done.appended, done.folded) == (1, [])


def test_a_batch_under_a_filter_reports_nothing_for_hidden_lines():
    buf = EventBuffer()
    buf.set_filter("response.done")
    change = buf.add_batch([EventSent(append(), 0.0)] * 5 + [EventReceived(delta(), 0.1)])
    assert not change.changed


def test_a_batch_past_the_bound_reports_the_lines_dropped_from_the_front():
    buf = EventBuffer(max_entries=4)
    buf.add_batch([EventReceived({"type": "session.updated"}, float(i)) for i in range(4)])
    change = buf.add_batch([EventReceived({"type": "response.done"}, 9.0)] * 3)
    assert (change.appended, change.removed) == (3, 3)


def test_lines_keep_events_with_their_audio_elided():
    buf = EventBuffer()
    buf.add("received", delta(1000), 0.0)
    buf.add("received", delta(500), 0.1)
    assert buf.entries[0].event["delta"] == "<24000 bytes of audio>"
    assert buf.entries[0].text == "x2, 1.5 s"


SESSION = Path(__file__).parent / "data" / "turns_events.jsonl"


def test_a_line_costs_under_a_kilobyte_however_large_its_event():
    """Thousands of lines are kept: each keeps its event as JSON text, not the decoded
    dicts and strings (a line of a recorded session: 1.6 kB with dicts, 0.7 kB with JSON
    text, 0.57 kB with slotted lines and interned types)."""
    frames = SESSION.read_text().splitlines()
    buf = EventBuffer()

    def add_session() -> None:
        for frame in frames:  # each decoded by itself, as frames are
            line = json.loads(frame)
            buf.add(line["direction"], line["event"], 0.0)

    add_session()  # what the first lines fill once (the summaries' caches)
    before = len(buf.entries)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(10):
            add_session()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    lines = len(buf.entries) - before
    assert lines > 500
    assert held / lines < 1_000, f"{held / lines:.0f} bytes a line"


def test_a_line_shows_the_event_it_was_given_with_audio_elided():
    buf = EventBuffer()
    newest = {}
    for frame in SESSION.read_text().splitlines():  # a folded line shows its newest event
        event = json.loads(frame)["event"]
        newest[buf.add("received", event, 0.0).seq] = event
    buf.add("received", {"type": "session.updated"}, 0.0)  # no line folds any more in
    shown = {entry.seq: entry.event for entry in buf.entries}
    assert all(shown[seq] == elide_for_display(event) for seq, event in newest.items())
