"""The emulated session's handler parts, each built and driven alone (no socket)."""

from __future__ import annotations

import base64
from typing import Any

from azure.ai.voicelive import models as m

from voicelive_tui.emulator.audio_events import AudioEvents
from voicelive_tui.emulator.item_events import ItemEvents
from voicelive_tui.emulator.recognition import Recogniser
from voicelive_tui.emulator.state import ConnectionRecord, StoredConversation, StoredItem


def record() -> ConnectionRecord:
    return ConnectionRecord(
        index=0,
        query={},
        auth_kind="none",
        agent_mode=None,
        conversation=StoredConversation("conv_1"),
    )


class Sent:
    """The server events a part sends, as wire dicts."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, event: m.ServerEvent) -> bool:
        self.events.append(dict(event.as_dict()))
        return True

    def types(self) -> list[str]:
        return [str(e["type"]) for e in self.events]


async def test_item_events_truncate_an_agent_reply_to_what_was_heard() -> None:
    rec, sent = record(), Sent()
    reply = StoredItem(
        "item_a", "assistant", "audio", text="one two three four", audio=bytes(48_000)
    )
    reply.transcript_ms = 1000
    rec.conversation.items.append(reply)
    runs: list[StoredItem] = []
    items = ItemEvents(rec, send=sent, run_mcp_call=runs.append)

    truncate = items.handlers()["conversation.item.truncate"]
    await truncate({"item_id": "item_a", "content_index": 0, "audio_end_ms": 500})

    assert sent.types() == ["conversation.item.truncated"]
    assert reply.audio_ms == 500 and reply.text == "one two"
    assert rec.last_truncate == {"item_id": "item_a", "content_index": 0, "audio_end_ms": 500}
    assert runs == []


async def test_audio_events_commit_the_buffer_as_a_user_item() -> None:
    rec, sent = record(), Sent()
    started: list[dict[str, Any]] = []

    async def start_response(overrides: dict[str, Any]) -> None:
        started.append(overrides)

    async def cancel_active(reason: str) -> None:
        raise AssertionError("nothing to cancel")

    audio = AudioEvents(
        rec,
        max_append_bytes=64_000,
        send=sent,
        active_response=lambda: None,
        cancel_active=cancel_active,
        start_response=start_response,
        recogniser=(recogniser := Recogniser()),
    )
    handlers = audio.handlers()
    pcm = bytes(2 * 24_000 // 5)  # 200 ms of silence: no turn detection without a session
    try:
        await handlers["input_audio_buffer.append"]({"audio": base64.b64encode(pcm).decode()})
        await handlers["input_audio_buffer.commit"]({})
        # No input_audio_transcription and no tools: nothing needs the words.
        assert not audio.transcripts.turns
    finally:
        await recogniser.close()

    assert rec.appended_audio_bytes == len(pcm)
    assert sent.types() == ["input_audio_buffer.committed", "conversation.item.created"]
    (item,) = rec.conversation.items
    assert item.role == "user" and item.audio == pcm
    assert item.text == "[speech, 0.2 s]"  # known by its length only
    assert started == []  # a manual commit does not ask for a response
