"""Where usage shows on the dashboard: the turn header, the status bar, the usage view."""

from __future__ import annotations

from tests.unit.test_conversation import feed, session_updated
from tests.unit.test_usage import talk
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.ui.view import AudioStatus, status_view, token_count
from voicelive_tui.ui.widgets.conversation import turn_header
from voicelive_tui.ui.widgets.usage_view import usage_lines


def test_the_turn_header_carries_its_tokens() -> None:
    conv = Conversation()
    talk(conv)
    second = [t for t in conv.turns if t.role == "agent"][1]
    assert "· 180 in (96 cached) / 21 out tok" in turn_header(second, lambda t: "10:00:00")


def test_status_bar_shows_the_session_total_once_there_is_one() -> None:
    conv = Conversation()
    feed(conv, session_updated())
    view = status_view(conv, AudioStatus(), host="h", mode="m", now=0.0)
    assert view.usage is None
    talk(conv)
    total = conv.usage.total
    view = status_view(conv, AudioStatus(), host="h", mode="m", now=0.0)
    assert view.usage == f"{total.input_tokens} in / {total.output_tokens} out"
    assert [token_count(n) for n in (950, 12_345, 2_500_000)] == ["950", "12.3k", "2.5M"]


def test_usage_view_has_a_row_per_turn_and_drops_columns_when_narrow() -> None:
    conv = Conversation()
    assert "No usage yet" in usage_lines(conv, 100)[0].plain
    talk(conv)
    wide = [line.plain for line in usage_lines(conv, 100)]
    narrow = [line.plain for line in usage_lines(conv, 40)]
    assert wide[0].startswith(f"session {conv.usage.total.total_tokens} tokens")
    assert any(line.startswith("#2") and "96" in line for line in wide)
    assert "reasoning" in wide[3] and "reasoning" not in narrow[3]
    assert any("wider for:" in line for line in narrow)
    assert all(len(line) <= 40 for line in narrow[3:-1])
