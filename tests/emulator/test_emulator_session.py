"""Session config and the greeting: session.update echo, response streaming and pacing."""

from __future__ import annotations

import numpy as np
from azure.ai.voicelive.models import (
    AudioEchoCancellation,
    AudioNoiseReduction,
    AzureStandardVoice,
    InputAudioFormat,
    Modality,
    OutputAudioFormat,
    RequestSession,
    ServerVad,
)

from voicelive_tui.emulator.speech import synthesize

RESPONSE_SEQUENCE = [
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.audio.done",
    "response.audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


async def test_session_created_has_service_defaults(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        session = (await probe.wait_for("session.created")).session
    assert session.id.startswith("sess_")
    assert session.voice["type"] == "azure-standard"
    assert session.input_audio_format == "pcm16"
    assert session.input_audio_sampling_rate == 24000
    assert session.turn_detection.type == "server_vad"
    assert session.turn_detection.interrupt_response is True
    assert set(session.modalities) == {"text", "audio"}


async def test_session_update_echoes_the_whole_effective_session(emulator, voicelive_client):
    config = RequestSession(
        modalities=[Modality.TEXT, Modality.AUDIO],
        voice=AzureStandardVoice(name="en-US-Ava:DragonHDLatestNeural"),
        instructions="Be a pirate.",
        input_audio_format=InputAudioFormat.PCM16,
        output_audio_format=OutputAudioFormat.PCM16,
        turn_detection=ServerVad(threshold=0.6, prefix_padding_ms=200, silence_duration_ms=400),
        input_audio_echo_cancellation=AudioEchoCancellation(),
        input_audio_noise_reduction=AudioNoiseReduction(type="azure_deep_noise_suppression"),
    )
    async with voicelive_client(emulator) as probe:
        created = (await probe.wait_for("session.created")).session
        await probe.conn.session.update(session=config)
        updated = (await probe.wait_for("session.updated")).session
        await probe.conn.session.update(session={"temperature": 0.7})
        second = (await probe.wait_for("session.updated")).session
    assert updated.id == created.id
    assert updated.instructions == "Be a pirate."
    assert updated.voice == {"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"}
    assert updated.turn_detection.threshold == 0.6
    assert updated.turn_detection.prefix_padding_ms == 200
    assert updated.turn_detection.silence_duration_ms == 400
    assert updated.turn_detection.create_response is True
    assert updated.input_audio_echo_cancellation.type == "server_echo_cancellation"
    assert updated.input_audio_noise_reduction.type == "azure_deep_noise_suppression"
    # A later partial update keeps everything else: the session is merged, not replaced.
    assert second.temperature == 0.7
    assert second.instructions == "Be a pirate."
    assert second.turn_detection.threshold == 0.6
    assert emulator.latest.session["instructions"] == "Be a pirate."


async def test_agent_mode_keeps_the_agents_instructions(emulator, voicelive_client):
    async with voicelive_client(emulator, model=None, agent_name="tobi", project_name="p") as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"instructions": "Ignore the agent."})
        updated = (await probe.wait_for("session.updated")).session
    assert "tobi" in updated.instructions
    assert updated.agent.name == "tobi"


async def test_greeting_streams_the_full_sequence_with_real_audio(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        done = await probe.wait_for("response.done")
    types = [t for t in probe.types() if t.startswith("response.")]
    assert [t for t in types if not t.endswith(".delta")] == RESPONSE_SEQUENCE
    deltas = [e.delta for e in probe.events if e.type == "response.audio.delta"]
    assert all(isinstance(d, bytes) for d in deltas)
    durations_ms = [len(d) / 48 for d in deltas]
    assert all(100 <= ms <= 200 for ms in durations_ms[:-1])
    audio = np.frombuffer(b"".join(deltas), dtype="<i2").astype(np.float64)
    assert len(audio) > 24000  # more than a second of speech
    assert np.sqrt(np.mean(audio**2)) > 300  # clearly audible, never silence
    transcript = next(e for e in probe.events if e.type == "response.audio_transcript.done")
    words = "".join(e.delta for e in probe.events if e.type == "response.audio_transcript.delta")
    assert "local Voice Live emulator" in transcript.transcript
    assert words == transcript.transcript
    assert done.response.status == "completed"
    assert done.response.usage.output_token_details.audio_tokens > 0
    assert done.response.output[0].content[0].transcript == transcript.transcript


async def test_responses_are_paced_in_real_time_divided_by_speed(
    emulator_factory, voicelive_client
):
    emu = await emulator_factory(speed=8.0)
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        created = await probe.wait_for("response.created")
        done = await probe.wait_for("response.done")
    # When the reader read them, not when this test woke up (late on a busy machine).
    at = {id(event): when for event, when in zip(probe.events, probe.arrived, strict=True)}
    elapsed = at[id(done)] - at[id(created)]
    audio_s = sum(len(e.delta) for e in probe.events if e.type == "response.audio.delta") / 48000
    assert elapsed >= 0.85 * audio_s / 8.0
    assert elapsed < audio_s / 2  # and nowhere near real time


async def test_text_only_modality_streams_text(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"modalities": ["text"]})
        await probe.wait_for("session.updated")
        await probe.conn.response.create()
        text_done = await probe.wait_for("response.text.done")
        await probe.wait_for("response.done")
    types = probe.types()
    assert "response.audio.delta" not in types
    assert "response.text.delta" in types
    assert "local Voice Live emulator" in text_done.text


async def test_output_rate_follows_output_audio_format(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"output_audio_format": "pcm16_16000hz"})
        await probe.wait_for("session.updated")
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    deltas = [e.delta for e in probe.events if e.type == "response.audio.delta"]
    assert len(deltas[0]) == 16000 * 150 // 1000 * 2


async def test_speech_without_espeak_is_an_audible_tone_pattern():
    pcm = await synthesize("one two three", 24000, use_espeak=False)
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert len(audio) == 3 * int(24000 * 0.2)  # one beep and gap per word
    assert np.sqrt(np.mean(audio**2)) > 3000
