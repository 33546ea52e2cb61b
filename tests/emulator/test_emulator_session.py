"""Session config and the greeting: session.update echo, response streaming and pacing."""

from __future__ import annotations

import numpy as np
import pytest
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

from voicelive_tui.emulator import Emulator
from voicelive_tui.emulator.schedule import AUDIO_LEAD_MS, BURST_MS, BURST_RATE
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


async def _greeting_audio_arrivals(voicelive_client, emu) -> list[tuple[float, int]]:
    """(arrival time, ms of audio) of each ``response.audio.delta`` of the greeting: when
    the probe's reader read it off the real SDK connection (not when this test woke up)."""
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_for("response.done", timeout=30)
    return [
        (when, len(event.delta) * 1000 // 48000)
        for event, when in zip(probe.events, probe.arrived, strict=True)
        if event.type == "response.audio.delta"
    ]


def _bursts(arrivals: list[tuple[float, int]], gap_s: float) -> list[tuple[float, int]]:
    """Deltas that arrived less than ``gap_s`` apart, grouped: (first arrival, ms)."""
    bursts: list[tuple[float, int]] = []
    last = None
    for at, ms in arrivals:
        if last is None or at - last >= gap_s:
            bursts.append((at, ms))
        else:
            bursts[-1] = (bursts[-1][0], bursts[-1][1] + ms)
        last = at
    return bursts


async def test_service_pacing_sends_bursts_ahead_of_real_time(emulator_factory, voicelive_client):
    """As the service does: each second of speech at once, 2.5x faster than it plays."""
    speed = 2.0
    emu = await emulator_factory(speed=speed)  # pacing "service", the default
    arrivals = await _greeting_audio_arrivals(voicelive_client, emu)
    audio_ms = sum(ms for _, ms in arrivals)
    bursts = _bursts(arrivals, gap_s=BURST_MS / BURST_RATE / speed / 2000)
    # A busy machine can read two bursts as one (the pause between them shrinks when the
    # reader is late), never more bursts than were sent: each group holds whole bursts.
    assert 2 <= len(bursts) <= -(-audio_ms // BURST_MS)
    for _, ms in bursts[:-1]:
        whole = max(1, round(ms / BURST_MS))
        assert abs(ms - whole * BURST_MS) <= 150 * whole  # 150 ms deltas
    spacing = np.diff([at for at, _ in bursts])
    expected = BURST_MS / BURST_RATE / speed / 1000
    assert np.min(spacing) >= 0.5 * expected  # a pause between bursts, not a stream
    # The whole reply arrives in well under the time it takes to play.
    assert arrivals[-1][0] - arrivals[0][0] < 0.5 * audio_ms / 1000 / speed


async def test_realtime_pacing_streams_at_the_pace_it_plays(emulator_factory, voicelive_client):
    """The option for tests that must act while a reply is still streaming."""
    speed = 3.0  # the greeting streams in ~2 s of real time
    emu = await emulator_factory(speed=speed, pacing="realtime")
    arrivals = await _greeting_audio_arrivals(voicelive_client, emu)
    audio_ms = sum(ms for _, ms in arrivals)
    streamed = arrivals[-1][0] - arrivals[0][0]
    # The last delta starts 150 ms before the end and goes out AUDIO_LEAD_MS early.
    playing = (audio_ms - 150 - AUDIO_LEAD_MS) / 1000 / speed
    assert 0.85 * playing <= streamed < 2 * playing
    assert len(_bursts(arrivals, gap_s=0.03 / speed)) > audio_ms // 300  # no bursts


def test_an_unknown_pacing_is_refused():
    with pytest.raises(ValueError, match="pacing must be one of service, realtime"):
        Emulator(pacing="fast")  # type: ignore[arg-type]


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
