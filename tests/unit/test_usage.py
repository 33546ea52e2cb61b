"""Token usage from ``response.done``: per response, per agent turn, per session, and where
it is shown (turn header, status bar, console line, usage view, summary JSON, export)."""

from __future__ import annotations

from typing import Any

from tests.scaffold.replay import scripted_usage
from tests.unit.test_conversation import agent_answer, feed, session_updated, user_speech
from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.summary import SUMMARY_VERSION, session_summary
from voicelive_tui.conversation.usage import TokenUsage, UsageLedger, compact


def with_usage(events: list[dict[str, Any]], usage: dict[str, Any]) -> list[dict[str, Any]]:
    """``events`` with ``usage`` (and the message it spoke) on their ``response.done``."""
    done = events[-1]
    assert done["type"] == "response.done"
    item = events[1]["item"]["id"]
    done["response"] |= {"usage": usage, "output": [{"id": item, "type": "message"}]}
    return events


def talk(conv: Conversation) -> None:
    now = feed(conv, session_updated())
    now = feed(conv, user_speech("item_u1", "Hello"), now)
    now = feed(
        conv,
        with_usage(agent_answer("r1", "item_a1", ["Hi"], "Hi there"), scripted_usage(1, 2)),
        now,
    )
    now = feed(conv, user_speech("item_u2", "And?"), now)
    feed(
        conv,
        with_usage(agent_answer("r2", "item_a2", ["So"], "So it goes"), scripted_usage(2, 3)),
        now,
    )


def test_wire_usage_is_read_with_its_details_and_bad_fields_count_zero() -> None:
    usage = TokenUsage.from_wire(scripted_usage(2, 3))
    assert (usage.input_tokens, usage.output_tokens) == (180, 3 + 3 * 300 * 20 // 1000)
    assert (usage.input_audio, usage.input_text, usage.input_cached) == (60, 120, 96)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    bad = TokenUsage.from_wire({"input_tokens": "7", "output_tokens": -1, "x": None})
    assert bad == TokenUsage()
    assert TokenUsage.from_wire(None) == TokenUsage()


def test_billed_takes_cached_tokens_out_of_the_kind_they_came_from() -> None:
    usage = TokenUsage.from_wire(scripted_usage(2, 3))
    billed = usage.billed()
    assert billed["input_text"] == 120 - 96 and billed["input_cached"] == 96
    assert billed["input_audio"] == 60
    # No cached detail: the cached share comes from text first, then audio.
    plain = TokenUsage(input_tokens=30, input_text=10, input_audio=20, input_cached=15)
    assert plain.billed()["input_text"] == 0 and plain.billed()["input_audio"] == 15
    assert sum(plain.billed()[k] for k in ("input_text", "input_audio", "input_cached")) == 30


def test_each_turn_carries_its_response_tokens_and_the_session_sums_them() -> None:
    conv = Conversation()
    talk(conv)
    first, second = (t for t in conv.turns if t.role == "agent")
    assert first.usage == TokenUsage.from_wire(scripted_usage(1, 2))
    assert second.usage == TokenUsage.from_wire(scripted_usage(2, 3))
    assert conv.usage.total == first.usage + second.usage
    assert [r.item_id for r in conv.usage.responses] == ["item_a1", "item_a2"]
    assert "(96 cached)" in compact(second.usage)


def test_a_response_without_usage_adds_nothing() -> None:
    conv = Conversation()
    now = feed(conv, session_updated())
    feed(conv, agent_answer("r1", "item_a1", ["Hi"], "Hi"), now)
    assert conv.usage.responses == [] and conv.usage.total == TokenUsage()
    assert all(t.usage is None for t in conv.turns)
    assert UsageLedger().add({"id": "r", "usage": "lots"}, 0.0) is None


def test_summary_is_versioned_and_holds_usage_per_response_turn_and_session() -> None:
    conv = Conversation()
    talk(conv)
    summary = session_summary(conv)
    assert summary["version"] == SUMMARY_VERSION
    usage = summary["usage"]
    assert [r["response_id"] for r in usage["responses"]] == ["r1", "r2"]
    assert [t["item_id"] for t in usage["turns"]] == ["item_a1", "item_a2"]
    for key in ("input_tokens", "output_tokens", "input_cached_tokens", "output_audio_tokens"):
        assert usage["total"][key] == sum(r[key] for r in usage["responses"])
    assert usage["turns"][1]["input_cached_tokens"] == 96
    assert usage["audio_out_s"] == 0.2  # two 100 ms deltas
    assert usage["audio_tokens_per_s"]["output"] == round(conv.usage.total.output_audio / 0.2, 2)
    assert usage["audio_tokens_per_s"]["input"] is None  # nothing was appended


def test_markdown_export_carries_each_turns_tokens_and_the_total() -> None:
    conv = Conversation()
    talk(conv)
    text = conversation_markdown(conv, conv.latencies, lambda t: "10:00:00")
    assert f"- Tokens: {conv.usage.total.total_tokens} (" in text
    assert text.count("> usage ") == 2
