"""The conversation log's order when events interleave as the service sends them."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import LogLines, wait_until
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.session.upkeep import PLAYBACK_CHECK_S, log_heard_replies
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


async def test_held_replies_are_written_once_heard_and_nothing_is_polled_meanwhile() -> None:
    """``log_heard_replies`` writes a held line once its audio ended; while nothing is
    held it does not wake the loop (it used to look 10 times a second all session)."""

    class Counting(ConversationLogWriter):
        looks = 0

        @property
        def holding(self) -> bool:
            Counting.looks += 1
            return bool(self._held)

    conv, log, playing = Conversation(), LogLines(), {"a1"}
    writer = Counting(log, conv, lambda item: item in playing)  # type: ignore[arg-type]
    task = asyncio.ensure_future(log_heard_replies(writer))
    try:
        await asyncio.sleep(5 * PLAYBACK_CHECK_S)  # a stretch with nothing held
        assert Counting.looks <= 1
        for now, event in enumerate(REPLY):
            conv.apply_received(event, float(now))
            writer(EventReceived(event))
        assert log.lines == ["User Input:\thi"]  # held while it plays
        playing.clear()
        await wait_until(lambda: len(log.lines) == 2, what="the heard reply's line")
        assert log.lines[1] == "Agent Audio Response:\tHello there"
    finally:
        task.cancel()
