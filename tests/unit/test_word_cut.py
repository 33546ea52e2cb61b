"""Cutting an interrupted reply at the last word heard, from word timestamps."""

from __future__ import annotations

from voicelive_tui.conversation.reducer import Conversation, cut_at_words

WORDS = [(0, 400, "Hello"), (700, 900, "this"), (900, 1100, "is"), (1100, 1600, "Ava")]
TEXT = "Hello! This is Ava."


def test_the_cut_keeps_the_words_whose_audio_had_started() -> None:
    assert cut_at_words(TEXT, WORDS, 0) == ""
    assert cut_at_words(TEXT, WORDS, 1) == "Hello!"
    assert cut_at_words(TEXT, WORDS, 650) == "Hello!"
    assert cut_at_words(TEXT, WORDS, 901) == "Hello! This is"
    assert cut_at_words(TEXT, WORDS, 5000) == TEXT


def test_words_missing_from_the_transcript_fall_back_to_the_estimate() -> None:
    assert cut_at_words("Bonjour tout le monde", WORDS, 901) is None
    conv = Conversation()
    events = [
        {"type": "response.output_item.added", "response_id": "r", "item": {"id": "a"}},
        {"type": "response.audio_transcript.delta", "item_id": "a", "delta": "Bonjour tout"},
        {"type": "response.audio.delta", "item_id": "a", "delta": "AAAA" * 2400},
        {
            "type": "response.audio_timestamp.delta",
            "item_id": "a",
            "audio_offset_ms": 0,
            "audio_duration_ms": 300,
            "text": "Hello",
        },
    ]
    for now, event in enumerate(events):
        conv.apply_received(event, float(now))
    conv.interrupt("a", 50)
    turn = conv.agent_turn("a")
    assert turn is not None and turn.cut_estimated and turn.words == [(0, 300, "Hello")]


def test_timestamps_place_the_cut_of_an_interrupted_turn() -> None:
    conv = Conversation()
    conv.apply_received(
        {"type": "response.output_item.added", "response_id": "r", "item": {"id": "a"}}, 0.0
    )
    conv.apply_received(
        {"type": "response.audio_transcript.delta", "item_id": "a", "delta": TEXT}, 0.1
    )
    for start, end, word in WORDS:
        event = {
            "type": "response.audio_timestamp.delta",
            "item_id": "a",
            "audio_offset_ms": start,
            "audio_duration_ms": end - start,
            "text": word,
        }
        conv.apply_received(event, 0.2)
    conv.interrupt("a", 950)
    turn = conv.agent_turn("a")
    assert turn is not None
    assert (turn.text, turn.cut_estimated, turn.heard_ms) == ("Hello! This is", False, 950)
