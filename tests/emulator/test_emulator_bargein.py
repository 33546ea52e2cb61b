"""Interrupting the agent: barge-in, response.cancel, truncate, output buffer clear."""

from __future__ import annotations

NO_ACTIVE = "Cancellation failed: no active response"
SLOW = 2.0
"""Speed for tests that must talk over a reply while it is still streaming (with
``realtime`` pacing: the service's bursts would send it all in a fraction of that)."""


async def test_speech_over_a_reply_cancels_it_then_cancel_the_next(
    emulator_factory, voicelive_client, speech_turn
):
    emu = await emulator_factory(speed=SLOW, pacing="realtime")
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        greeting = (await probe.wait_for("response.created")).response
        await probe.wait_for("response.audio.delta")
        turn = speech_turn()
        split = (turn.speech_start_ms + 400) * 48  # the user is still talking here
        await probe.send_audio(turn.pcm[:split])
        await probe.wait_for("input_audio_buffer.speech_started")
        # What the seed quickstart does on speech_started: cancel, and ignore "no active".
        await probe.conn.response.cancel()
        interrupted = await probe.wait_for(
            "response.done", where=lambda e: e.response.id == greeting.id
        )
        benign = await probe.wait_for("error")
        await probe.send_audio(turn.pcm[split:])
        await probe.wait_for("input_audio_buffer.speech_stopped")
        echo = (await probe.wait_for("response.created")).response
        await probe.wait_for("response.audio.delta")
        await probe.conn.response.cancel()
        cancelled = await probe.wait_for("response.done")
        await probe.conn.response.cancel()
        late = await probe.wait_for("error")
    assert interrupted.response.status == "cancelled"
    assert interrupted.response.status_details.reason == "turn_detected"
    assert NO_ACTIVE in benign.error.message
    assert cancelled.response.id == echo.id
    assert cancelled.response.status == "cancelled"
    assert cancelled.response.status_details.reason == "client_cancelled"
    assert NO_ACTIVE in late.error.message
    greeting_item = emu.latest.conversation.items[0]
    assert greeting_item.status == "incomplete"
    assert 0 < greeting_item.audio_ms < 3000  # only what was streamed before the barge-in
    assert [r["status"] for r in emu.latest.responses] == ["cancelled", "cancelled"]


async def test_interrupt_response_off_lets_the_reply_finish(
    emulator_factory, voicelive_client, speech_turn
):
    emu = await emulator_factory(speed=SLOW * 2, pacing="realtime")
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"turn_detection": {"type": "server_vad", "interrupt_response": False}}
        )
        await probe.wait_for("session.updated")
        await probe.conn.response.create()
        await probe.wait_for("response.audio.delta")
        await probe.send_audio(speech_turn().pcm)
        await probe.wait_for("input_audio_buffer.speech_started")
        done = await probe.wait_for("response.done")
    assert done.response.status == "completed"


async def test_cancel_with_nothing_active_is_an_error_and_harmless(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.cancel(event_id="evt_c1")
        error = await probe.wait_for("error")
        await probe.conn.response.create()
        done = await probe.wait_for("response.done")
    assert NO_ACTIVE in error.error.message
    assert error.error.event_id == "evt_c1"
    assert done.response.status == "completed"


async def test_second_response_create_while_one_is_active_is_refused(
    emulator_factory, voicelive_client
):
    emu = await emulator_factory(speed=SLOW, pacing="realtime")
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_for("response.created")
        await probe.conn.response.create()
        error = await probe.wait_for("error")
        await probe.conn.response.cancel()
        await probe.wait_for("response.done")
    assert error.error.code == "conversation_already_has_active_response"
    assert probe.types().count("response.created") == 1


async def test_truncate_trims_the_stored_audio_and_transcript(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        item_id = (await probe.wait_for("response.output_item.added")).item.id
        full = (await probe.wait_for("response.audio_transcript.done")).transcript
        await probe.wait_for("response.done")
        await probe.conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=1000
        )
        truncated = await probe.wait_for("conversation.item.truncated")
        await probe.conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=60_000
        )
        beyond = await probe.wait_for("error")
        await probe.conn.conversation.item.truncate(
            item_id="item_nope", content_index=0, audio_end_ms=10
        )
        unknown = await probe.wait_for("error")
    assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (
        item_id,
        0,
        1000,
    )
    stored = emulator.latest.conversation.find(item_id)
    assert stored.audio_ms == 1000
    assert 0 < len(stored.text) < len(full)
    assert full.startswith(stored.text)
    assert emulator.latest.last_truncate == {
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": 1000,
    }
    assert beyond.error.param == "audio_end_ms"
    assert unknown.error.param == "item_id"


async def test_output_audio_buffer_clear_is_acknowledged(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.output_audio_buffer.clear()
        await probe.wait_for("output_audio_buffer.cleared")
    assert emulator.latest.counts["output_audio_buffer.clear"] == 1
