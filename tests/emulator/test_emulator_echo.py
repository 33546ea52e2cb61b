"""Echo cancellation (``input_audio_echo_cancellation``, API 2026-07-15) through the real SDK:
the settings the service rejects, with its codes, and what leaked agent audio does in each
mode. The leak here is made in numpy (the agent's own audio, delayed and quieter, as the
microphone); tests/audio/test_echo_loopback.py makes it with PulseAudio."""

from __future__ import annotations

import asyncio
import base64
import wave

import numpy as np
import pytest
from azure.ai.voicelive.models import AudioEchoCancellation

from tests.conftest import VoiceLiveProbe

LEAK_DELAY_MS = 180
LEAK_GAIN = 0.5
CLIENT = {"reference_source": "client", "channels": 2}


@pytest.mark.parametrize(
    "update, code",
    [
        ({"input_audio_echo_cancellation": {"reference_source": "client", "channels": 1}},
         "invalid_ec_reference_channels"),
        ({"input_audio_echo_cancellation": {"reference_source": "client", "channels": 3}},
         "invalid_ec_reference_channels"),
        ({"input_audio_echo_cancellation": {"reference_source": "server", "channels": 2}},
         "invalid_ec_channels_requires_client"),
        ({"input_audio_echo_cancellation": {"channels": 2}},
         "invalid_ec_channels_requires_client"),
        ({"input_audio_echo_cancellation": CLIENT, "input_audio_format": "g711_ulaw"},
         "invalid_ec_channels_format"),
    ],
    ids=["client-mono", "three-channels", "server-stereo", "default-source-stereo", "g711"],
)  # fmt: skip
async def test_echo_settings_the_service_rejects(emulator, voicelive_client, update, code):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session=update)
        error = await probe.wait_for("error")
        await probe.conn.session.update(session={"instructions": "still here"})
        await probe.wait_for("session.updated")
    assert error.error.code == code
    assert emulator.latest.session.get("input_audio_echo_cancellation") is None  # unchanged


async def test_channels_cannot_change_once_audio_came(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        # The SDK's own model, as a client would write it.
        ec = AudioEchoCancellation(reference_source="client", channels=2)
        await probe.conn.session.update(session={"input_audio_echo_cancellation": ec})
        await probe.wait_for("session.updated")
        await probe.conn.input_audio_buffer.append(audio=base64.b64encode(bytes(1920)).decode())
        mono = {"input_audio_echo_cancellation": {"reference_source": "server", "channels": 1}}
        await probe.conn.session.update(session=mono)
        error = await probe.wait_for("error")
        # Stereo frames only: three bytes cannot be split into channels.
        await probe.conn.input_audio_buffer.append(audio=base64.b64encode(bytes(6)).decode())
        odd = await probe.wait_for("error")
    assert error.error.code == "change_in_ec_channels_not_allowed"
    assert emulator.latest.session["input_audio_echo_cancellation"]["channels"] == 2
    assert odd.error.code == "invalid_audio"


async def test_channels_may_be_set_before_audio(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"input_audio_echo_cancellation": CLIENT})
        await probe.wait_for("session.updated")
        await probe.conn.session.update(session={"input_audio_echo_cancellation": None})
        await probe.wait_for("session.updated")
    assert "error" not in probe.types()


async def play_greeting_with_leak(
    probe: VoiceLiveProbe, stereo: bool, buffer_ms: int = 0, user: bytes = b"", user_ms: int = 0
) -> str:
    """Ask for the greeting and be the client's speaker and microphone, in real time: every
    40 ms the speaker plays the next block of the reply received so far, and the microphone
    hears it LEAK_DELAY_MS later at LEAK_GAIN (in stereo, the block played is channel 1).
    With ``buffer_ms`` the speaker starts once that much audio waits (a deep playback
    buffer); ``user`` (PCM16) is the user speaking into the microphone, over the echo, from
    ``user_ms`` on. The status of the reply."""
    voice = np.frombuffer(user, dtype="<i2").astype(np.float32)
    await probe.conn.response.create()
    block = 24 * 40  # samples: 40 ms
    delay = 24 * LEAK_DELAY_MS
    speaker = np.zeros(0, dtype=np.float32)  # what was played, on the microphone's clock
    queued = 0  # samples of the reply played so far
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (done := next((e for e in probe.events if e.type == "response.done"), None)) is None:
        assert loop.time() - start < 30, probe.types()
        reply = b"".join(e.delta for e in probe.events if e.type == "response.audio.delta")
        samples = np.frombuffer(reply, dtype="<i2").astype(np.float32)
        played = np.zeros(block, dtype=np.float32)
        waiting = queued > 0 or len(samples) >= 24 * buffer_ms
        chunk = samples[queued : queued + block] if waiting else samples[:0]
        played[: len(chunk)] = chunk
        queued += len(chunk)
        speaker = np.concatenate([speaker, played])
        now = len(speaker)
        mic = np.zeros(block, dtype=np.float32)
        lo = max(0, now - block - delay)
        heard = LEAK_GAIN * speaker[lo : max(0, now - delay)]
        mic[block - len(heard) :] = heard
        lo = now - block - 24 * user_ms  # where the block starts in the user's voice
        said = voice[max(0, lo) : max(0, lo + block)]
        mic[max(0, -lo) : max(0, -lo) + len(said)] += said
        frames = np.stack([mic, played], axis=1) if stereo else mic
        pcm = np.clip(frames, -32768, 32767).astype("<i2").tobytes()
        await probe.conn.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())
        # The microphone's pace: the next block is there 40 ms after this one.
        await asyncio.sleep(max(0.0, start + now / 24000 - loop.time()))
    return done.response.status


async def test_without_echo_cancellation_the_agents_own_voice_interrupts_it(
    emulator_factory, voicelive_client
):
    emu = await emulator_factory(speed=1.0)
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        status = await play_greeting_with_leak(probe, stereo=False)
    assert "input_audio_buffer.speech_started" in probe.types()
    assert status == "cancelled"


async def test_a_client_reference_cancels_the_leak(emulator_factory, voicelive_client):
    emu = await emulator_factory(speed=1.0)
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"input_audio_echo_cancellation": CLIENT})
        await probe.wait_for("session.updated")
        status = await play_greeting_with_leak(probe, stereo=True)
    assert "input_audio_buffer.speech_started" not in probe.types()
    assert status == "completed"


async def test_with_a_client_reference_the_user_still_barges_in_over_the_echo(
    emulator_factory, voicelive_client, speech_wav
):
    """The user talks over the agent (espeak-ng, as loud as the agent's voice) while its
    echo leaks: the canceller takes the echo out and lets the user through at once."""
    with wave.open(str(speech_wav)) as w:
        user = w.readframes(w.getnframes())
    # The reply streams as it plays, so that it is still being generated when the user
    # speaks however busy the machine: in bursts it can be all sent (and done) first.
    emu = await emulator_factory(speed=1.0, pacing="realtime")
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"input_audio_echo_cancellation": CLIENT})
        await probe.wait_for("session.updated")
        status = await play_greeting_with_leak(probe, stereo=True, user=user, user_ms=1500)
    started = [e for e in probe.events if e.type == "input_audio_buffer.speech_started"]
    # Heard as the user starts (the input timeline starts with the reply), not in a pause.
    assert started and 1500 <= started[0].audio_start_ms < 1500 + 200
    assert status == "cancelled"
