"""The timeline's lines (pure): whatever lies off the window's edges is clipped, never an
error, and each turn's words stay apart from the next turn's."""

from __future__ import annotations

import pytest

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.ui.widgets.timeline_view import timeline_lines


def conversation_with_a_cut_at(t: float) -> Conversation:
    conv = Conversation()
    for n, at in enumerate((t - 3.0, t - 1.0)):
        item = f"item_user{n}"
        conv.apply_received({"type": "input_audio_buffer.speech_started", "item_id": item}, at)
        conv.apply_received({"type": "input_audio_buffer.committed", "item_id": item}, at + 0.5)
        transcript = {"item_id": item, "transcript": "words of a turn that go on and on"}
        conv.apply_received(
            {"type": "conversation.item.input_audio_transcription.completed", **transcript},
            at + 0.6,
        )
    delta = {"type": "response.audio.delta", "item_id": "item_a", "delta": "<48000 bytes>"}
    conv.apply_received(delta, t - 2.0)
    conv.apply_sent(
        {"type": "conversation.item.truncate", "item_id": "item_a", "audio_end_ms": 700}, t
    )
    return conv


@pytest.mark.parametrize("width", [80, 160, 400])
@pytest.mark.parametrize("ago", [0.0, 25.0, 59.0, 61.0, 200.0, 5000.0])
def test_old_events_are_clipped_at_the_left_edge(width: int, ago: float) -> None:
    conv = conversation_with_a_cut_at(1000.0)
    lines = timeline_lines(conv, 1000.0 + ago, width)
    assert all(len(line.plain) == width for line in lines[:6])


def test_turns_words_are_apart() -> None:
    conv = conversation_with_a_cut_at(1000.0)
    lines = timeline_lines(conv, 1001.0, 160)
    you = next(line.plain for line in lines if line.plain.startswith("you"))
    # Two turns 2 s apart: the first's words stop a cell before the second's begin.
    assert "words words" in you and "swords" not in you, you
