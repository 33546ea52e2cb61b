"""Echo through PulseAudio: the speaker sink's monitor looped into the microphone sink
(``module-loopback``, 150 ms), as a laptop's speaker leaks into its microphone.

A small test client of the emulator plays the agent's audio on the speaker sink (``pacat``)
and sends what the microphone sink hears (``parec``), as mono or, with a client reference,
as stereo whose channel 1 is the speaker sink's monitor (what was played). Sending the
reference from our own client is issue 22; this client stands in for it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import wave
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from tests.audio.leak import loopback
from tests.audio.pulse import PulseServer
from tests.conftest import VoiceLiveProbe

# Slow: echo in real time through PulseAudio (an emulator at speed 1, pacat, parec and a
# loopback module) needs the CPU on time; the canceller is tested without real time in the
# fast run (tests/emulator/test_emulator_echo.py, tests/unit/test_echo.py).
pytestmark = [pytest.mark.realaudio, pytest.mark.slow]
START_TIMEOUT_S = 20.0

BLOCK_BYTES = 24 * 40 * 2  # 40 ms of 24 kHz mono PCM16
LOOPBACK_MS = 150
QUIET_BLOCKS = 5
QUIET_RMS = 30.0
"""A block quieter than this (about -60 dBFS) is silence."""


@pytest.fixture
def leak(pulse: PulseServer) -> Iterator[None]:
    """The speaker leaks into the microphone for the test's duration."""
    with loopback(pulse, LOOPBACK_MS):
        yield None


async def _source(pulse: PulseServer, device: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "parec",
        f"--device={device}",
        "--rate=24000",
        "--channels=1",
        "--format=s16le",
        "--latency-msec=20",
        stdout=asyncio.subprocess.PIPE,
        env=pulse.env,
    )


@contextlib.asynccontextmanager
async def devices(pulse: PulseServer) -> AsyncIterator[tuple[asyncio.subprocess.Process, ...]]:
    """(speaker player, microphone recorder, speaker monitor recorder)."""
    speaker = await asyncio.create_subprocess_exec(
        "pacat",
        "--playback",
        "--device=speaker",
        "--rate=24000",
        "--channels=1",
        "--format=s16le",
        "--latency-msec=40",
        stdin=asyncio.subprocess.PIPE,
        env=pulse.env,
    )
    reference = await _source(pulse, "speaker.monitor")
    mic = await _source(pulse, "mic.monitor")
    procs = (speaker, mic, reference)
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


class Live:
    """A recorder read as it records (a task empties its pipe), so that what it holds is
    never older than a block: two recorders started at different times are read side by
    side only once both are live (:meth:`skip_backlog`), or the one started first is paired
    late by its head start (under load: the echo before its reference, and a reference
    that had not reached the reply when the reply was done)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self.blocks: asyncio.Queue[bytes] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            await self.blocks.put(await self._stdout.readexactly(BLOCK_BYTES))

    async def started(self) -> None:
        """The recorder delivers (bounded: a parec that never starts fails here)."""
        await asyncio.wait_for(self.blocks.get(), START_TIMEOUT_S)

    def skip_backlog(self) -> None:
        while not self.blocks.empty():
            self.blocks.get_nowait()


async def converse(
    pulse: PulseServer, probe, stereo: bool, user: bytes = b"", user_ms: int = 0
) -> object:
    """Ask for the greeting; play it on the speaker as it comes, send the microphone (and
    in stereo the speaker's monitor) until the reply is done. ``user`` (PCM16) is the user
    speaking into the microphone, over the echo, ``user_ms`` after the request. Its status."""
    voice = np.frombuffer(user, dtype="<i2").astype(np.float32)
    async with devices(pulse) as (speaker, mic_proc, reference_proc):
        assert speaker.stdin
        mic, reference = Live(mic_proc), Live(reference_proc)
        quiet = asyncio.Event()
        reference_heard = False

        async def send() -> None:
            nonlocal reference_heard
            # The room first falls quiet (what an earlier test played has died away).
            still = 0
            while still < QUIET_BLOCKS:
                block = await mic.blocks.get()
                samples = np.frombuffer(block, "<i2").astype(np.float32)
                still = still + 1 if float(np.sqrt(np.mean(samples**2))) < QUIET_RMS else 0
            # Both live from here: block n of one beside block n of the other.
            mic.skip_backlog()
            reference.skip_backlog()
            quiet.set()
            sent = 0  # samples since the request
            while True:
                block = await mic.blocks.get()
                lo, sent = sent - 24 * user_ms, sent + BLOCK_BYTES // 2
                said = voice[max(0, lo) : max(0, lo + BLOCK_BYTES // 2)]
                if len(said):
                    heard = np.frombuffer(block, "<i2").astype(np.float32)
                    heard[max(0, -lo) : max(0, -lo) + len(said)] += said
                    block = np.clip(heard, -32768, 32767).astype("<i2").tobytes()
                ref = await reference.blocks.get()
                reference_heard = reference_heard or any(ref)
                if stereo:
                    frames = np.stack(
                        [np.frombuffer(block, "<i2"), np.frombuffer(ref, "<i2")], axis=1
                    )
                    block = frames.astype("<i2").tobytes()
                await probe.conn.input_audio_buffer.append(audio=base64.b64encode(block).decode())

        async def play() -> None:
            played = 0
            while True:
                event = await probe.wait_for("response.audio.delta", timeout=60)
                speaker.stdin.write(event.delta)
                await speaker.stdin.drain()
                played += 1

        tasks = [mic.task, reference.task]
        try:
            await asyncio.gather(mic.started(), reference.started())
            tasks += [asyncio.create_task(send()), asyncio.create_task(play())]
            await asyncio.wait_for(quiet.wait(), 20)
            await probe.conn.response.create()
            done = await probe.wait_for("response.done", timeout=60)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # The speaker's monitor, read live beside the microphone, holds the reply (it once
        # recorded "nothing" here: read in step with a microphone started after it, it was
        # paired late by its head start, which under load outlasted the reply's sending).
        assert reference_heard or not stereo, "the speaker's monitor recorded nothing"
    return done.response.status


async def test_without_echo_cancellation_the_leak_interrupts_the_agent(
    pulse, leak, emulator_factory, voicelive_client
):
    emu = await emulator_factory(speed=1.0)
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        status = await converse(pulse, probe, stereo=False)
    assert "input_audio_buffer.speech_started" in probe.types()
    assert status == "cancelled"


async def converse_with_client_reference(
    pulse: PulseServer, emulator_factory, voicelive_client, user: bytes = b"", user_ms: int = 0
) -> tuple[VoiceLiveProbe, object]:
    """:func:`converse` in stereo with a fresh emulator whose session takes the client's
    reference. (The probe, the reply's status.)"""
    emu = await emulator_factory(speed=1.0)
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_echo_cancellation": {"reference_source": "client", "channels": 2}}
        )
        await probe.wait_for("session.updated")
        status = await converse(pulse, probe, stereo=True, user=user, user_ms=user_ms)
    return probe, status


async def test_a_client_reference_keeps_the_leak_from_interrupting(
    pulse, leak, emulator_factory, voicelive_client
):
    probe, status = await converse_with_client_reference(pulse, emulator_factory, voicelive_client)
    assert "input_audio_buffer.speech_started" not in probe.types()
    assert status == "completed"


async def test_with_a_client_reference_the_user_still_barges_in_over_the_leak(
    pulse, leak, emulator_factory, voicelive_client, speech_wav
):
    with wave.open(str(speech_wav)) as w:
        user = w.readframes(w.getnframes())
    probe, _status = await converse_with_client_reference(
        pulse, emulator_factory, voicelive_client, user=user, user_ms=1500
    )
    started = [e for e in probe.events if e.type == "input_audio_buffer.speech_started"]
    # Heard as the user starts, not in a pause of the agent's: the loopback's echo is as
    # loud as the user, so the quiet onset of a word can go as echo (seen: 30 to 290 ms).
    # (Whether the reply was cancelled depends on whether the emulator, sending ahead of
    # real time, had sent all of it by then; the client stops its playback either way.)
    assert started and 1500 <= started[0].audio_start_ms < 1500 + 400
