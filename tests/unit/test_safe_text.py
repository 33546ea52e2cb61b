"""The sanitising boundary (voicelive_tui/safe_text.py) and the pure views that use it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.hostile import HOSTILE, script
from voicelive_tui.conversation.activity import describe, footnotes, log_lines
from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.logs import json_line
from voicelive_tui.protocol import summarize
from voicelive_tui.safe_text import CONTROLS, UNSAFE, displayable
from voicelive_tui.ui.events_model import EventBuffer
from voicelive_tui.ui.widgets.json_view import event_json
from voicelive_tui.updates import Notice, Outage

ANY_TEXT = st.text(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from([chr(c) for c in CONTROLS]))
)
RAW = {chr(c) for c in CONTROLS} - {"\n", "\t"}


def raw_in(text: str) -> set[str]:
    return set(text) & RAW


@given(ANY_TEXT)
def test_no_control_character_survives(text: str) -> None:
    assert not raw_in(displayable(text))
    assert not UNSAFE.search(displayable(text, one_line=True))


@given(ANY_TEXT, ANY_TEXT)
def test_pieces_clean_as_the_whole_and_twice_as_once(a: str, b: str) -> None:
    # Streamed deltas are cleaned one by one: the joined text is the same.
    assert displayable(a) + displayable(b) == displayable(a + b)
    assert displayable(displayable(a)) == displayable(a)
    assert displayable(displayable(a, one_line=True), one_line=True) == displayable(
        a, one_line=True
    )


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cf", "Cs"])))
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert displayable(text) == text


def test_each_control_is_shown_as_python_writes_it() -> None:
    assert displayable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert displayable("\x1b]52;c;cHduZWQ=\x07") == "\\x1b]52;c;cHduZWQ=\\x07"
    assert displayable("\x9b2J\x7f\x00") == "\\x9b2J\\x7f\\x00"
    assert displayable("\u202eevil\u2066") == "\\u202eevil\\u2066"
    assert displayable("two\nlines\tand a tab") == "two\nlines\tand a tab"
    assert displayable("two\nlines\tand a tab", one_line=True) == "two lines and a tab"
    assert displayable("carriage\r") == "carriage\\x0d"
    assert displayable("é ✓ 你好 🎙️") == "é ✓ 你好 🎙️"  # noqa: RUF001


def reduced(h: str = HOSTILE) -> Conversation:
    conv = Conversation()
    for n, event in enumerate(script(h)):
        conv.apply_received(event, float(n))
    conv.connection_lost(h, 1.0, 99.0)
    return conv


def test_the_reducer_stores_displayable_text_only() -> None:
    conv = reduced()
    shown = [t.text for t in conv.turns] + conv.errors
    shown += [conv.session.id, conv.session.model, conv.session.voice, conv.session.agent_name]
    shown += [conv.session.instructions] + [t.status for t in conv.turns if t.status]
    shown += [str(note) for t in conv.turns for note in t.citations]
    shown += [describe(e) for t in conv.turns for e in t.activity]
    shown += [line for t in conv.turns for line in footnotes(t.citations)]
    shown += list(conv.activity.rate_limits) + list(conv.activity.servers)
    assert any("\\x1b]0;HOSTILE-TITLE" in text for text in shown if text)
    for text in shown:
        assert text is not None and not raw_in(text), text
    # What is matched against the wire keeps the wire's text.
    assert any(t.item_id == "item_a" + HOSTILE for t in conv.turns)


def test_views_of_events_are_displayable() -> None:
    conv = reduced()
    buffer = EventBuffer()
    for event in script():
        assert not raw_in(summarize(event)), event["type"]
        assert not raw_in(event_json(event).plain), event["type"]
        buffer.add("received", event, 0.0)
        for line in log_lines(conv.activity, "received", event):
            assert not raw_in(line), line
    for entry in buffer.entries:
        assert not raw_in(entry.type) and not raw_in(entry.text), entry.text
    markdown = conversation_markdown(conv, conv.latencies, lambda t: f"{t:.0f}")
    assert "HOSTILE-TITLE" in markdown and not raw_in(markdown)


def test_event_summaries_write_escapes_once() -> None:
    delta = {"type": "response.text.delta", "delta": "a\x1b[2J\u202e b's"}
    assert summarize(delta) == '"a\\x1b[2J\\u202e b\'s"'


def test_updates_carry_displayable_text() -> None:
    assert Notice(f"Voice Live warning: {HOSTILE}").text == displayable(
        f"Voice Live warning: {HOSTILE}", one_line=True
    )
    assert not raw_in(Outage(HOSTILE + "\nline two", 1.0).reason)


def test_the_events_log_keeps_the_wire_text_escaped() -> None:
    for event in script():
        line = json_line({"event": event})
        assert json.loads(line) == {"event": event}
        assert not UNSAFE.search(line), line
