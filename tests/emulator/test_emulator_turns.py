"""User turns: real espeak-ng speech through server VAD, manual commit, and text messages."""

from __future__ import annotations

import base64
import re

import pytest
from azure.ai.voicelive.models import InputTextContentPart, UserMessageItem

VAD_TOLERANCE_MS = 150


@pytest.mark.parametrize("rate, transcribe", [(24000, False), (16000, True)])
async def test_spoken_turn_is_detected_where_the_speech_is(
    emulator, voicelive_client, speech_turn, rate, transcribe
):
    turn = speech_turn(rate=rate)
    session: dict[str, object] = {"input_audio_sampling_rate": rate}
    if transcribe:
        session["input_audio_transcription"] = {"model": "azure-speech"}
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session=session)
        await probe.wait_for("session.updated")
        await probe.send_audio(turn.pcm, rate=rate)
        started = await probe.wait_for("input_audio_buffer.speech_started")
        stopped = await probe.wait_for("input_audio_buffer.speech_stopped")
        committed = await probe.wait_for("input_audio_buffer.committed")
        created = await probe.wait_for("conversation.item.created")
        if transcribe:
            transcribed = await probe.wait_for(
                "conversation.item.input_audio_transcription.completed", timeout=60
            )
        reply = await probe.wait_for("response.audio_transcript.done", timeout=60)
        await probe.wait_for("response.done")
    assert abs(started.audio_start_ms - turn.speech_start_ms) <= VAD_TOLERANCE_MS
    assert abs(stopped.audio_end_ms - turn.speech_end_ms) <= VAD_TOLERANCE_MS
    assert started.item_id == stopped.item_id == committed.item_id == created.item.id
    assert created.item.role == "user"
    speech_ms = turn.speech_end_ms - turn.speech_start_ms
    stored = emulator.latest.conversation.find(created.item.id)
    assert speech_ms <= stored.audio_ms <= speech_ms + 500  # includes the prefix padding
    assert emulator.latest.appended_audio_bytes == len(turn.pcm)
    if transcribe:
        assert transcribed.transcript and not transcribed.transcript.startswith("[speech")
    else:
        # No transcript asked for: none is sent (the service's recogniser does not run),
        # and the reply knows the turn by its length.
        assert not [t for t in probe.types() if "input_audio_transcription" in t]
        assert re.search(r"I heard \d\.\d seconds of speech", reply.transcript)


async def test_spoken_turn_reply_plays_the_users_audio_back(
    emulator, voicelive_client, speech_turn
):
    turn = speech_turn()
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(turn.pcm)
        heard = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=60
        )
        transcript = await probe.wait_for("response.audio_transcript.done")
        done = await probe.wait_for("response.done")
    assert f'I heard: "{heard.transcript}"' in transcript.transcript
    assert done.response.status == "completed"
    reply = b"".join(e.delta for e in probe.events if e.type == "response.audio.delta")
    # The echo is the user's own samples (same 24 kHz rate: byte for byte).
    middle = turn.speech[len(turn.speech) // 4 : len(turn.speech) // 2]
    assert middle in reply


async def test_vad_threshold_one_ignores_normal_speech(emulator, voicelive_client, speech_turn):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"turn_detection": {"type": "server_vad", "threshold": 1.0}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(speech_turn().pcm)
        await probe.conn.input_audio_buffer.clear()
        await probe.wait_for("input_audio_buffer.cleared")
    assert "input_audio_buffer.speech_started" not in probe.types()


@pytest.mark.parametrize("margin_ms, turns", [(300, 1), (-300, 2)])
async def test_silence_duration_decides_whether_a_pause_ends_the_turn(
    emulator, voicelive_client, speech_turn, margin_ms, turns
):
    turn = speech_turn(lead_ms=200, tail_ms=200)
    pause_ms = len(turn.pcm) // 48 - turn.speech_end_ms + turn.speech_start_ms
    td = {
        "type": "server_vad",
        "silence_duration_ms": pause_ms + margin_ms,
        "create_response": False,
    }
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"turn_detection": td})
        await probe.wait_for("session.updated")
        # The same utterance twice, pause_ms apart, then enough silence to end the turn.
        await probe.send_audio(turn.pcm + turn.pcm + bytes(48 * (pause_ms + 400)))
        for _ in range(turns):
            await probe.wait_for("input_audio_buffer.committed")
        await probe.conn.input_audio_buffer.clear()
        await probe.wait_for("input_audio_buffer.cleared")
    assert probe.types().count("input_audio_buffer.speech_started") == turns
    assert "response.created" not in probe.types()  # create_response off


async def test_manual_commit_without_vad(emulator, voicelive_client, speech_turn):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={
                "turn_detection": None,
                "input_audio_transcription": {"model": "azure-speech"},
            }
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(speech_turn().pcm)
        await probe.conn.input_audio_buffer.commit()
        committed = await probe.wait_for("input_audio_buffer.committed")
        # The recogniser starts cold here (no VAD to start it early): a generous time-out.
        transcribed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=60
        )
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    assert transcribed.item_id == committed.item_id
    assert transcribed.transcript and not transcribed.transcript.startswith("[speech")
    assert abs(emulator.latest.conversation.find(committed.item_id).audio_ms - 4200) < 100
    assert "input_audio_buffer.speech_started" not in probe.types()


async def test_commit_of_an_empty_buffer_is_an_error(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.input_audio_buffer.append(audio=base64.b64encode(bytes(960)).decode())
        await probe.conn.input_audio_buffer.commit(event_id="evt_commit")
        error = await probe.wait_for("error")
    assert "buffer too small" in error.error.message
    assert error.error.event_id == "evt_commit"


async def test_text_turn_gets_a_reply_quoting_it(emulator, voicelive_client):
    message = UserMessageItem(content=[InputTextContentPart(text="What is the capital of Peru?")])
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.conversation.item.create(item=message)
        created = await probe.wait_for("conversation.item.created")
        await probe.conn.response.create()
        transcript = await probe.wait_for("response.audio_transcript.done")
    assert created.item.role == "user"
    assert created.item.content[0].text == "What is the capital of Peru?"
    assert "What is the capital of Peru?" in transcript.transcript
    assert [i.role for i in emulator.latest.conversation.items] == ["user", "assistant"]
