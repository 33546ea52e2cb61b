"""The emulator's memory is bounded: speech cache, stored conversation audio, records."""

from __future__ import annotations

from azure.ai.voicelive.models import InputTextContentPart, UserMessageItem

from voicelive_tui.emulator import speech, state
from voicelive_tui.emulator.state import StoredConversation, StoredItem


async def test_speech_cache_keeps_the_most_recent_phrases_within_its_byte_limit(monkeypatch):
    one = len(await speech.synthesize("probe", 24000, use_espeak=False))
    monkeypatch.setattr(speech, "_CACHE", type(speech._CACHE)())
    monkeypatch.setattr(speech, "_CACHE_BYTES", 10 * one)
    for i in range(40):
        await speech.synthesize(f"message{i}", 24000, use_espeak=False)  # one word each
        await speech.synthesize("greeting", 24000, use_espeak=False)  # used all along
    phrases, size = speech.cache_size()
    assert size <= 10 * one and phrases == 10
    assert ("greeting", 24000, False) in speech._CACHE  # least recently used goes first
    assert ("message39", 24000, False) in speech._CACHE
    assert ("message0", 24000, False) not in speech._CACHE


def test_trim_audio_releases_the_oldest_audio_and_keeps_durations():
    conv = StoredConversation(id="c")
    for i in range(5):
        conv.items.append(StoredItem(id=f"i{i}", role="user", kind="audio", audio=bytes(48000)))
    conv.trim_audio(budget=2 * 48000)
    assert [len(i.audio) for i in conv.items] == [0, 0, 0, 48000, 48000]
    assert [i.audio_ms for i in conv.items] == [1000] * 5
    conv.trim_audio(budget=0)
    assert [len(i.audio) for i in conv.items] == [0, 0, 0, 0, 48000]  # the newest stays


async def test_stored_reply_audio_stays_within_budget_over_many_turns(
    emulator, voicelive_client, monkeypatch
):
    budget = 400_000  # about 8 s of 24 kHz speech; each reply is about 3 s
    monkeypatch.setattr(state, "AUDIO_BUDGET_BYTES", budget)
    monkeypatch.setattr(state, "RECORD_LIMIT", 50)
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        for i in range(8):
            item = UserMessageItem(content=[InputTextContentPart(text=f"message {i}")])
            await probe.conn.conversation.item.create(item=item)
            await probe.conn.response.create()
            await probe.wait_for("response.done")
    items = emulator.latest.conversation.items
    replies = [i for i in items if i.role == "assistant"]
    assert len(replies) == 8
    assert sum(len(i.audio) for i in items) <= budget + len(replies[-1].audio)
    assert len(replies[0].audio) == 0 and replies[0].audio_ms > 1000  # released, duration kept
    assert len(replies[-1].audio) > 0
    assert isinstance(replies[-1].audio, bytes)
    assert len(emulator.latest.sent) == 50  # the newest events only
    assert emulator.latest.sent[-1] == "response.done"
