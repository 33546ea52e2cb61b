"""Our own client sends the echo reference (``--echo-reference client``), on real PortAudio
devices: PulseAudio null sinks, the speaker's monitor looped into the microphone
(``module-loopback``) as a laptop's speaker leaks into its microphone.

- the reference channel lines up with the microphone: in ``--record``'s third channel the
  echo follows the reference by the loopback's latency, within one block;
- what barge-in drops from the device buffer is silence in the reference too;
- a whole session (the greeting and two spoken turns) over the leak: the agent never
  interrupts itself with the client reference, and does without echo cancellation (the
  figures per mode, the server's reference with a 400 ms buffer too, are the benchmark's:
  ``benchmarks/echo.py``, section ``echo_leak``);
- the user talking over the agent is still heard; the reference can be switched live.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from tests import helpers
from tests.audio.leak import LOOPBACK_MS, converse_over_leak, loopback
from tests.helpers import RecordingListener
from voicelive_tui.audio.base import SAMPLE_RATE
from voicelive_tui.audio.capture import collected
from voicelive_tui.audio.engine import SoundDeviceBackend

pytestmark = pytest.mark.realaudio

BLOCK_MS = 20


def echo_lag_ms(mic: np.ndarray, reference: np.ndarray, max_ms: int = 600) -> tuple[float, float]:
    """(lag of the microphone behind the reference at the cross-correlation's peak, in ms;
    the peak's height over the correlation's spread)."""
    mic = mic.astype(np.float64)
    ref = reference.astype(np.float64)
    n = mic.size
    corr = np.fft.irfft(np.fft.rfft(mic, 2 * n) * np.conj(np.fft.rfft(ref, 2 * n)))
    most = max_ms * SAMPLE_RATE // 1000
    lags = np.concatenate([corr[-most:], corr[: most + 1]])  # -max .. +max
    peak = int(np.argmax(np.abs(lags)))
    return (peak - most) * 1000 / SAMPLE_RATE, float(np.abs(lags).max() / np.abs(lags).std())


def noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (
        (rng.standard_normal(int(SAMPLE_RATE * seconds)) * 6000)
        .clip(-32000, 32000)
        .astype(np.int16)
    )


def read_recording(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate()) == (3, SAMPLE_RATE)
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 3)


async def start_backend(**kwargs) -> SoundDeviceBackend:
    backend = SoundDeviceBackend("pulse", "pulse", **kwargs)
    backend.echo_reference = True
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    return backend


@pytest.mark.slow  # real time: 6 s
@pytest.mark.parametrize(
    "output_latency",
    [0.2, 0.4],
)
async def test_the_reference_channel_lines_up_with_the_loopback(pulse, tmp_path, output_latency):
    """``--record``'s third channel: the echo in the microphone follows the reference by
    the loopback's latency (within one block), whatever the speaker's own buffer."""
    record = tmp_path / "session.wav"
    with loopback(pulse):
        backend = await start_backend(record=record, output_latency=output_latency)
        try:
            async with collected(backend.capture()) as blocks:
                for burst in range(4):  # noise bursts: a sharp, unambiguous peak
                    backend.play(f"burst{burst}", noise(0.3, burst).tobytes())
                    backend.ring.release()
                    await helpers.wait_until(lambda b=burst: backend.pending_ms() == 0, 20)
                    await asyncio.sleep(0.4)  # the room falls quiet between bursts
        finally:
            await backend.stop()
    frames = read_recording(record)
    mic, reference = frames[:, 0], frames[:, 2]
    assert reference.any(), "the reference channel is silent"
    lag, height = echo_lag_ms(mic, reference)
    assert height > 10, f"no echo peak (height {height:.1f})"
    assert abs(lag - LOOPBACK_MS) <= BLOCK_MS, f"echo {lag:.1f} ms behind the reference"
    # What the session sent is the same: stereo, channel 1 the reference.
    sent = np.frombuffer(b"".join(blocks), "<i2").reshape(-1, 2)
    sent_lag, _ = echo_lag_ms(sent[:, 0], sent[:, 1])
    assert abs(sent_lag - LOOPBACK_MS) <= BLOCK_MS


@pytest.mark.slow  # real time: 7 s
async def test_what_barge_in_dropped_unheard_is_silence_in_the_reference(pulse, tmp_path):
    """A 4 s tone cut after 600 ms: the reference holds what was heard, not the 200 ms the
    device buffer held and dropped, and then silence."""
    record = tmp_path / "session.wav"
    backend = await start_backend(record=record)
    try:
        # The microphone runs (PulseAudio starts its streams a second or two late): what
        # sounded before it did is in no reference.
        blocks = 0

        async def capture() -> None:
            nonlocal blocks
            async for _block in backend.capture():
                blocks += 1

        task = asyncio.create_task(capture())
        await helpers.wait_until(lambda: blocks >= 50, 20)
        backend.play("item_a", helpers.tone(1000, 4.0, phase=0.3).tobytes())
        await helpers.wait_until(lambda: backend.played_ms("item_a") >= 600, 20)
        handed = backend.ring.played_samples("item_a")
        backend.barge_in()
        heard = backend.ring.heard_samples("item_a")
        after = backend.ring.out_count
        await helpers.wait_until(lambda: backend.ring.out_count > after + SAMPLE_RATE, 20)
        await asyncio.sleep(0.3)  # the input side records the same second
        task.cancel()
    finally:
        await backend.stop()
    reference = read_recording(record)[:, 2]
    block = SAMPLE_RATE * BLOCK_MS // 1000
    assert handed - heard >= SAMPLE_RATE // 10  # the device held 100 ms or more unheard
    sounded = int(np.count_nonzero(reference))
    assert heard - 2 * block <= sounded <= heard + 2 * block


# -- a whole session over the leak (tests/audio/leak.py) ---------------------------------


@pytest.mark.slow
async def test_with_the_client_reference_the_agent_never_interrupts_itself(
    pulse, emulator_factory, tmp_path, speech_wav
):
    run = await converse_over_leak(
        pulse, emulator_factory, tmp_path, speech_wav, reference="client"
    )
    print(f"client reference: {run}")
    assert run.self_interruptions == 0, run
    assert run.suspected == 0
    assert run.user_turns_heard >= 2  # the microphone was never muted: the user was heard


@pytest.mark.slow
async def test_with_the_client_reference_the_user_still_cuts_the_agent_over_the_leak(
    pulse, emulator_factory, tmp_path, speech_wav
):
    """The microphone is never muted while the agent speaks: the user talking over the
    greeting (its echo as loud as they are) is heard and cuts it."""
    run = await converse_over_leak(
        pulse,
        emulator_factory,
        tmp_path,
        speech_wav,
        reference="client",
        turns=0,
        over_greeting_ms=1500,
    )
    print(f"client reference, the user over the greeting: {run}")
    assert run.user_over_agent >= 1, run
    assert run.greeting_cut
    assert run.self_interruptions == 0


@pytest.mark.slow
async def test_without_echo_cancellation_the_leak_makes_the_agent_interrupt_itself(
    pulse, emulator_factory, tmp_path, speech_wav
):
    """The leak is loud enough to matter: the same session without echo cancellation."""
    run = await converse_over_leak(
        pulse, emulator_factory, tmp_path, speech_wav, reference="server", echo_cancellation=False
    )
    print(f"no echo cancellation: {run}")
    assert run.self_interruptions >= 1, run


# -- the live switch ---------------------------------------------------------------------


async def test_switching_the_echo_reference_live_renews_the_session_and_keeps_it(
    pulse, emulator_factory, tmp_path
):
    """Server to client from the palette: the input's channels change, which the service
    refuses mid-session, so the session is renewed with stereo input from its start; the
    conversation so far is kept and no error comes back."""
    import base64

    from voicelive_tui import runner
    from voicelive_tui.config import Settings
    from voicelive_tui.logs import RunLogs
    from voicelive_tui.session import SessionOverrides
    from voicelive_tui.updates import EventSent, Update

    emu = await emulator_factory()
    settings = Settings(
        endpoint=emu.endpoint,
        api_key="test-key",
        echo_reference="server",
        log_dir=tmp_path / "logs",
    )
    appends: list[int] = []
    with RunLogs(settings.log_dir) as logs:
        backend = SoundDeviceBackend("pulse", "pulse")
        async with runner.open_session(settings, logs, audio=backend) as opened:
            session = opened.session
            conv = session.conversation

            def sent(update: Update) -> None:
                if (
                    isinstance(update, EventSent)
                    and update.event.get("type") == "input_audio_buffer.append"
                ):
                    appends.append(len(base64.b64decode(update.event["audio"])))

            session.subscribe(sent)
            running = asyncio.create_task(session.run())
            try:
                await helpers.wait_until(
                    lambda: any(t.role == "agent" and t.final for t in conv.turns), 30
                )
                assert conv.echo.reference == "server" and conv.echo.input_channels == 1
                await helpers.wait_until(lambda: len(appends) > 5, 20)
                assert set(appends) == {960}  # 20 ms of mono
                await session.override(SessionOverrides(echo_reference="client"))
                await helpers.wait_until(lambda: len(conv.renewals) == 1, 30)
                appends.clear()
                await helpers.wait_until(lambda: len(appends) > 5, 20)
            finally:
                session.quit()
                await running
    assert conv.echo.reference == "client" and conv.echo.input_channels == 2
    assert set(appends) == {1920}  # stereo: the microphone and the reference
    assert conv.errors == []
    greeting = next(t for t in conv.turns if t.role == "agent")
    assert greeting.text.startswith("Hello")  # the conversation was kept
    assert session.dialogue.echo.line() == "Echo reference: client (switched live)"
