"""The conversation log's order when events interleave as the service sends them."""

from __future__ import annotations

from typing import Any

from tests.helpers import LogLines
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.updates import EventReceived, EventSent


def feed(events: list[dict[str, Any]], playing: set[str] | None = None) -> tuple[LogLines, Any]:
    conv, log = Conversation(), LogLines()
    writer = ConversationLogWriter(log, conv, lambda item: item in (playing or set()))  # type: ignore[arg-type]
    for now, event in enumerate(events):
        conv.apply_received(event, float(now))
        writer(EventReceived(event))
    return log, (conv, writer)


REPLY = [
    {"type": "input_audio_buffer.speech_started", "item_id": "u1"},
    {"type": "input_audio_buffer.speech_stopped", "item_id": "u1"},
    {"type": "response.created", "response": {"id": "r1"}},
    {"type": "response.output_item.added", "response_id": "r1", "item": {"id": "a1"}},
    {"type": "response.audio_transcript.delta", "item_id": "a1", "delta": "Hello"},
    # The user's transcript arrives while the reply streams (it is asynchronous).
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "u1",
        "transcript": "hi",
    },
    {"type": "response.audio_transcript.done", "item_id": "a1", "transcript": "Hello there"},
    {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
]


def test_a_late_user_transcript_does_not_cut_the_streaming_reply() -> None:
    log, _ = feed(REPLY)
    assert log.lines == ["User Input:\thi", "Agent Audio Response:\tHello there"]


def test_a_reply_still_playing_is_written_when_heard_or_before_the_next_input() -> None:
    log, (conv, writer) = feed(REPLY, playing={"a1"})
    assert log.lines == ["User Input:\thi"]  # held while it plays
    writer(
        EventSent(
            {
                "type": "conversation.item.create",
                "item": {"role": "user", "content": [{"type": "input_text", "text": "next"}]},
            },
        )
    )
    assert log.lines == [
        "User Input:\thi",
        "Agent Audio Response:\tHello there",
        "User Input:\tnext",
    ]
