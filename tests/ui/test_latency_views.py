"""The latency view's lines and the Markdown export, without a terminal."""

from __future__ import annotations

from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.conversation.latency import TurnTiming
from voicelive_tui.conversation.reducer import Conversation, SessionInfo, Turn
from voicelive_tui.ui.widgets.latency_view import EMPTY, latency_lines

FAST = TurnTiming(speech_end=0, speech_stopped=0.5, response_created=0.55,
                  first_delta=0.75, first_sound=0.95, item_id="item_a")  # fmt: skip
SLOW = TurnTiming(speech_end=10, speech_stopped=10.6, response_created=10.7,
                  first_delta=11.6, first_sound=11.9, item_id="item_b")  # fmt: skip
TYPED = TurnTiming(kind="typed", sent=20.0, first_output=20.4)


def test_bars_scale_to_the_slowest_turn_and_fit_80_columns() -> None:
    lines = latency_lines([FAST, SLOW, TYPED], 76)
    plain = [line.plain for line in lines]
    assert plain[0].startswith("voice") and "p50 0.95s" in plain[0] and "p90 1.90s" in plain[0]
    assert "p99" not in plain[0] and "max 1.90s" in plain[0]  # under 80 columns
    assert [p.split()[0] for p in plain[1:5]] == ["end-of-speech", "response", "first", "playback"]
    assert "first audio" in plain[3] and "max 0.90s" in plain[3]
    assert plain[5] == " worst #2: first audio: 0.90 s of 1.90 s"
    typed = next(p for p in plain if p.startswith("typed"))
    assert "0.40s" in typed and "worst #3: first output: 0.40 s of 0.40 s" in plain[7]
    wide = [line.plain for line in latency_lines([FAST, SLOW, TYPED], 100)]
    assert "p95 1.90s p99 1.90s max 1.90s" in wide[0]
    bars = [p for p in plain if p.startswith("#")]
    assert len(bars) == 3
    assert all(len(p) <= 76 for p in plain)
    fast_cells, slow_cells = bars[0].count("█"), bars[1].count("█")
    assert slow_cells > fast_cells * 1.8  # 1.9 s against 0.95 s
    assert latency_lines([], 76)[0].plain == EMPTY


def test_markdown_export_has_turns_interruptions_and_latency() -> None:
    conv = Conversation(session=SessionInfo(id="sess_1", model="gpt-realtime"))
    conv.turns = [
        Turn("user", 0.0, item_id="u1", text="Tell me a story", final=True),
        Turn("agent", 1.0, item_id="item_a", text="Once upon a time", interrupted=True,
             heard_ms=1200),
        Turn("user", 5.0, text="Thanks", kind="text"),
    ]  # fmt: skip
    text = conversation_markdown(conv, [FAST], lambda t: f"00:00:{t:02.0f}")
    assert text.startswith("# Voice Live conversation\n")
    assert "- Session: `sess_1`" in text
    assert "**You** (00:00:00, audio)\n\nTell me a story" in text
    assert "_[interrupted by the user after 1.2 s heard]_" in text
    assert "> latency 950 ms: end-of-speech wait 500 ms" in text
    assert "**You** (00:00:05, typed)" in text
