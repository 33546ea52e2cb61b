"""SoundDeviceBackend on real PortAudio devices (PulseAudio null sinks, see conftest).

The tests that find and open the devices run twice: server found through the runtime
dir, and reached only by a ``PULSE_SERVER=unix:/path`` socket (as an SSH-forwarded laptop
socket would be); the others once, through the runtime dir.
Callbacks are late and bursty here, so tests wait on content with generous time-outs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests import helpers
from tests.audio.conftest import PULSE_MODES
from tests.audio.leak import loopback
from voicelive_tui.audio import devices
from voicelive_tui.audio.base import SAMPLE_RATE
from voicelive_tui.audio.capture import collected
from voicelive_tui.audio.engine import OUTPUT_LATENCY_S, SoundDeviceBackend

pytestmark = pytest.mark.realaudio


async def wait_until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Generous time-outs: callbacks are late and bursty here."""
    await helpers.wait_until(predicate, timeout)


def tone(freq: float, seconds: float) -> np.ndarray:
    """A tone whose samples are never exactly zero (phase offset), to count them."""
    return helpers.tone(freq, seconds, phase=0.3)


def dominant_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(float) * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


class MonitorTap:
    """``parec`` of the speaker sink's monitor into a raw file: what a listener hears."""

    def __init__(self, pulse, path: Path, sink: str = "speaker") -> None:
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = pulse.popen(
            "parec",
            f"--device={sink}.monitor",
            f"--rate={SAMPLE_RATE}",
            "--channels=1",
            "--format=s16le",
            "--latency-msec=20",
            stdout=self._file,
        )

    def samples(self) -> np.ndarray:
        data = self.path.read_bytes()
        return np.frombuffer(data[: len(data) // 2 * 2], np.int16)

    def heard_ms(self, rms_threshold: float = 2000.0) -> int:
        """Milliseconds (10 ms frames) of the monitor louder than ``rms_threshold``."""
        x = self.samples().astype(float)
        n = x.size // 240
        rms = np.sqrt(np.mean(x[: n * 240].reshape(n, 240) ** 2, axis=1))
        return int((rms > rms_threshold).sum()) * 10

    def settled_after(self, quiet_s: float) -> Callable[[], bool]:
        """A check that is true once the monitor delivered ``quiet_s`` of audio in which
        ``heard_ms`` did not grow (silence heard, not parec starved on a busy machine)."""
        last = [self.heard_ms(), self.samples().size]

        def settled() -> bool:
            heard, delivered = self.heard_ms(), self.samples().size
            if heard != last[0]:
                last[:] = [heard, delivered]
            return delivered - last[1] >= quiet_s * SAMPLE_RATE

        return settled

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._file.close()


EACH_WAY = pytest.mark.parametrize("pulse", PULSE_MODES, indirect=True)
EACH_WAY_AND_RATE = pytest.mark.parametrize(
    ("pulse", "device_rate"),
    [
        # Slow: its way to the server is the 48 kHz case's, its rate the socket path's.
        pytest.param("runtime-dir", None, marks=pytest.mark.slow),
        ("runtime-dir", 48_000),
        ("socket-path", None),
    ],
    indirect=["pulse"],
)
"""Both ways to the server at the device's own rate, and resampled once (each way and
each rate in the fast run; the third combination in the slow one)."""


@EACH_WAY
def test_list_devices_names_the_server_and_devices(pulse):
    text = devices.list_devices_text()
    assert "pulseaudio" in text.splitlines()[0]
    if pulse.mode == "socket-path":
        assert "unix:" in text.splitlines()[0]
    assert "pulse" in text and "Inputs:" in text and "Outputs:" in text


@EACH_WAY_AND_RATE
async def test_speech_into_the_mic_sink_is_captured(
    pulse, backend_factory, speech_wav, device_rate
):
    backend, _ = await backend_factory(device_rate=device_rate)
    with wave.open(str(speech_wav)) as w:
        source = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    captured: list[bytes] = []
    heard = asyncio.Event()

    async def collect() -> None:
        loud_blocks = 0
        async for block in backend.capture():
            captured.append(block)
            if np.abs(np.frombuffer(block, np.int16)).max() > 2000:
                loud_blocks += 1
            # The speech has been heard and ~0.3 s of quiet followed it.
            if loud_blocks > 20 and len(captured) > 15 and not _loud(captured[-15:]):
                heard.set()
                return

    task = asyncio.create_task(collect())
    player = pulse.popen("paplay", "--device=mic", str(speech_wav))
    try:
        await asyncio.wait_for(heard.wait(), 30)
    finally:
        task.cancel()
        player.wait(timeout=30)
    audio = np.frombuffer(b"".join(captured), np.int16).astype(float)
    assert all(len(b) == 960 for b in captured)  # 20 ms blocks at 24 kHz whatever the device
    # Content, not just energy: the capture correlates with the source speech.
    src = source.astype(float)
    corr = np.fft.irfft(
        np.fft.rfft(audio, 2 * audio.size) * np.conj(np.fft.rfft(src, 2 * audio.size))
    )
    peak = corr.max() / (np.linalg.norm(src) * np.linalg.norm(audio) + 1e-9)
    assert peak > 0.5


def _loud(blocks: list[bytes]) -> bool:
    return np.abs(np.frombuffer(b"".join(blocks), np.int16)).max() > 2000


@EACH_WAY_AND_RATE
async def test_played_audio_is_heard_on_the_speaker_monitor(
    pulse, backend_factory, tmp_path, device_rate
):
    tap = MonitorTap(pulse, tmp_path / "monitor.raw")
    try:
        backend, listener = await backend_factory(device_rate=device_rate)
        signal = tone(1000, 1.0)
        for chunk in np.array_split(signal, 7):  # like 150 ms response.audio.delta chunks
            backend.play("item_a", chunk.tobytes())
        await wait_until(lambda: backend.played_ms("item_a") >= 990 and backend.pending_ms() == 0)
        # PulseAudio may swallow the very start while the monitor stream attaches.
        await wait_until(lambda: tap.heard_ms() >= 800)
    finally:
        tap.stop()
    assert listener.started == ["item_a"]
    assert dominant_hz(tap.samples()) == pytest.approx(1000, abs=10)
    assert backend.ring.underruns <= 1  # the end of the item, not a starved middle


@pytest.mark.parametrize("echo_reference", [False, True], ids=["mono", "client-reference"])
async def test_barge_in_silences_the_speaker_within_one_block(
    pulse, backend_factory, tmp_path, echo_reference
):
    """The device buffer is big (OUTPUT_LATENCY_S), yet what the device held is dropped:
    the monitor hears no more than ``played_ms`` (what the truncate reports) said. The
    same with the client echo reference (its history written by the output callback)."""
    record = tmp_path / "session.wav"
    tap = MonitorTap(pulse, tmp_path / "monitor.raw")
    try:
        backend, _ = await backend_factory(record=record, echo_reference=echo_reference)
        backend.play("item_a", tone(1000, 4.0).tobytes())
        await wait_until(lambda: backend.played_ms("item_a") >= 600)
        await wait_until(lambda: tap.heard_ms() > 0)
        handed_before = backend.ring.played_samples("item_a")
        backend.barge_in()
        heard_ms = backend.played_ms("item_a")  # what the session truncates at
        at_bump = backend.ring.played_samples("item_a")
        after = backend.ring.out_count  # samples handed to the device, silence included
        # Let ten blocks of audio time pass through the callback.
        await wait_until(lambda: backend.ring.out_count > after + 4800)
        played_after_bump = backend.ring.played_samples("item_a") - at_bump
        # The monitor catches up with what was heard; on a starved device (an underflow)
        # or an overloaded machine it may never, and the lower bound below is then off.
        # Once it heard nothing new for a second (the device plays silence now), it will
        # not catch up any more: no use waiting the whole time-out.
        settled = tap.settled_after(1.0)
        with contextlib.suppress(AssertionError):
            await wait_until(
                lambda: (
                    tap.heard_ms() >= heard_ms - 100
                    or bool(backend.callbacks.output_underflows)
                    or settled()
                ),
                timeout=10.0,
            )
        starved = backend.callbacks.output_underflows > 0 or os.getloadavg()[0] >= (
            os.cpu_count() or 1
        )
        await backend.stop()
        heard_on_monitor_ms = tap.heard_ms()
    finally:
        tap.stop()
    channels = 3 if echo_reference else 2
    with wave.open(str(record)) as w:
        assert (w.getnchannels(), w.getframerate()) == (channels, SAMPLE_RATE)
        right = np.frombuffer(w.readframes(w.getnframes()), np.int16)[1::channels]
    stale_in_recording = int(np.count_nonzero(right)) - at_bump
    block_ms = backend.block * 1000 // SAMPLE_RATE
    assert played_after_bump <= backend.block
    assert 0 <= stale_in_recording <= backend.block  # measured on the recorded samples
    # The device held more than that (its buffer), and it was not heard: the monitor
    # (what a listener hears) matches played_ms, not what had been handed over.
    assert (handed_before * 1000 // SAMPLE_RATE) - heard_ms >= 100
    assert heard_on_monitor_ms <= heard_ms + block_ms + 60
    if not starved:
        # The monitor's recorder (parec) lags the device by up to ~150 ms on a busy
        # machine (CI saw 120 ms): a bound on played_ms's honesty, not a block.
        assert heard_on_monitor_ms >= heard_ms - 150
    assert backend.stats()["discarded"] > SAMPLE_RATE


async def test_output_buffer_grows_after_the_device_starved(pulse, backend_factory, tmp_path):
    backend, _ = await backend_factory()
    await wait_until(lambda: backend.callbacks.calls > 10)  # running, past PulseAudio's start
    first = backend._streams.output.latency
    backend.callbacks.output_underflows += 1  # as the callback counts a late call
    backend._grow_output_latency()
    assert not backend.faulted, backend.notice
    assert backend._streams.output.latency > first * 1.5
    assert backend.stats()["output_latency_ms"] == round(2 * OUTPUT_LATENCY_S * 1000)
    tap = MonitorTap(pulse, tmp_path / "after.raw")
    try:
        backend.play("item_b", tone(1000, 0.5).tobytes())
        await wait_until(lambda: tap.heard_ms() >= 300)
        await wait_until(lambda: backend.played_ms("item_b") >= 490)
    finally:
        tap.stop()
    assert not backend.faulted


# Slow step: 8 s of a spoken turn and its reply in real time; the console and
# dashboard spoken-turn tests stay fast.
@pytest.mark.slow
async def test_spoken_turn_through_devices_reaches_the_emulator_and_the_reply_is_heard(
    pulse, backend_factory, short_speech_wav, emulator, voicelive_client, tmp_path
):
    """Speech into the mic sink -> capture -> SDK -> emulator (speech_started); the
    emulator's echoed reply -> play -> heard on the speaker sink's monitor."""
    tap = MonitorTap(pulse, tmp_path / "reply.raw")
    try:
        backend, listener = await backend_factory()
        async with voicelive_client(emulator) as probe:
            await probe.wait_for("session.created")

            async def send_mic() -> None:
                async for block in backend.capture():
                    await probe.conn.input_audio_buffer.append(
                        audio=base64.b64encode(block).decode("ascii")
                    )

            sender = asyncio.create_task(send_mic())
            player = pulse.popen("paplay", "--device=mic", str(short_speech_wav))
            try:
                await probe.wait_for("input_audio_buffer.speech_started", timeout=30)
                first = await probe.wait_for("response.audio.delta", timeout=30)
                backend.play(first.item_id, first.delta)
                done = await probe.wait_for("response.audio.done", timeout=30)
                for event in probe.events:
                    if event.type == "response.audio.delta" and event is not first:
                        backend.play(event.item_id, event.delta)
            finally:
                sender.cancel()
                player.wait(timeout=30)
            reply_ms = (
                sum(len(e.delta) for e in probe.events if e.type == "response.audio.delta")
                * 1000
                // (2 * SAMPLE_RATE)
            )
            await wait_until(lambda: backend.pending_ms() == 0, timeout=60)
            await wait_until(lambda: tap.heard_ms() >= 300)
    finally:
        tap.stop()
    assert done.item_id in listener.started
    assert backend.played_ms(done.item_id) >= reply_ms - 20


@EACH_WAY
async def test_demo_is_live_with_devices_and_scripted_without(pulse, tmp_path, monkeypatch):
    """With a microphone the demo listens to it; only without devices does a script talk."""
    from voicelive_tui import runner, sources
    from voicelive_tui.audio.backends import NullBackend
    from voicelive_tui.config import Settings
    from voicelive_tui.logs import RunLogs

    settings = Settings(demo=True, log_dir=tmp_path / "logs")
    with RunLogs(settings.log_dir) as logs:
        async with sources.endpoint_source()(settings, logs) as opened:
            assert opened.demo and opened.scripted_user is None
            assert opened.session.audio.kind == "sounddevice"
        monkeypatch.setattr(runner, "build_audio", lambda s: NullBackend("no devices"))
        async with sources.endpoint_source()(settings, logs) as opened:
            assert opened.scripted_user is not None
            assert opened.session.audio.describe() == "scripted demo user (no microphone)"


@pytest.mark.slow  # waits out the idle pause and a reply in real time: 3 s
async def test_an_idle_output_pauses_and_the_next_reply_plays_whole(
    pulse, backend_factory, tmp_path
):
    """With nothing to play the output stream stops (no callbacks for silence); a reply
    starts it again once a device buffer's worth is queued, and plays whole from its
    first sample; after it the stream pauses again."""
    backend, listener = await backend_factory()
    await wait_until(lambda: backend.output_paused)
    output = backend._streams.output
    assert not output.active
    tap = MonitorTap(pulse, tmp_path / "monitor.raw")
    try:
        await wait_until(lambda: tap.samples().size >= SAMPLE_RATE // 10)
        signal = tone(1000, 1.0)
        chunks = np.array_split(signal, 7)  # ~143 ms deltas: the second one resumes it
        backend.play("item_a", chunks[0].tobytes())
        assert backend.output_paused  # less than a device buffer: still waiting
        for chunk in chunks[1:]:
            backend.play("item_a", chunk.tobytes())
        assert not backend.output_paused and output.active
        await wait_until(lambda: backend.played_ms("item_a") >= 990 and backend.pending_ms() == 0)
        await wait_until(lambda: tap.heard_ms() >= 800)
        await wait_until(lambda: backend.output_paused)  # idle again
    finally:
        tap.stop()
    assert listener.started == ["item_a"]
    assert dominant_hz(tap.samples()) == pytest.approx(1000, abs=10)
    assert backend.ring.underruns <= 1  # the end of the item, not a starved middle
    assert not backend.faulted, backend.notice


def loud_frames(blocks: list[bytes]) -> np.ndarray:
    """Which 10 ms frames of these 20 ms microphone blocks are loud."""
    mic = np.frombuffer(b"".join(blocks), np.int16).astype(float)
    frames = mic[: mic.size // 240 * 240].reshape(-1, 240)
    return np.sqrt((frames**2).mean(axis=1)) > 2000


def last_loud(blocks: list[bytes]) -> int:
    """The block after the last loud one (0: none loud)."""
    loud = np.flatnonzero(loud_frames(blocks))
    return int(loud[-1]) // 2 + 1 if loud.size else 0


@pytest.mark.slow  # 2.3 s of CPU (the spin itself), 5 s of real time
async def test_a_restarted_output_that_spins_still_plays_the_whole_reply(pulse, backend_factory):
    """With a loopback reading the speaker's monitor into the microphone (300 ms), PulseAudio's
    ALSA plugin may spin an output stream started again after an idle pause: hundreds of
    callbacks in a few hundred ms, each flagged as under-run, whose blocks never sound.
    The reply must still be heard whole, once (the echo check's probe was heard for a
    fraction of its second, or not at all). Heard here: the loopback's copy in what the
    microphone captured (a ``parec`` of the monitor changed how the server ran the
    stream: no spin then)."""
    with loopback(pulse, 300):
        backend, listener = await backend_factory()
        async with collected(backend.capture()) as blocks:
            await wait_until(lambda: len(blocks) >= 50 and backend.output_paused)
            await asyncio.sleep(1.0)  # paused a while, as before a reply
            before = len(blocks)
            backend.play("reply", tone(1000, 1.0).tobytes())
            backend.ring.release()  # its audio has all arrived: the stream starts at once
            await wait_until(lambda: backend.played_ms("reply") >= 990)
            # Its echo has all come: the microphone was quiet for half a second after it.
            await wait_until(lambda: 0 < last_loud(blocks[before:]) < len(blocks) - before - 25)
    loud = loud_frames(blocks[before:])
    heard_ms = int(loud.sum()) * 10
    spins = backend.callbacks.output_spins
    assert 900 <= heard_ms <= 1100, f"{heard_ms} ms heard ({spins} blocks spun)"
    assert listener.started == ["reply"]


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused-output"])
async def test_a_reply_shorter_than_the_jitter_buffer_still_plays(
    pulse, backend_factory, tmp_path, paused
):
    """Playback waits for ``prebuffer_ms`` queued, or for the deltas to stop: a short
    item must not wait for audio that never comes; nor, shorter than the device buffer,
    for a paused output to resume."""
    backend, listener = await backend_factory(prebuffer_ms=500)
    if paused:
        await wait_until(lambda: backend.output_paused)
    tap = MonitorTap(pulse, tmp_path / "short.raw")
    try:
        # A paused output sounds it at once (no buffered silence ahead): the monitor first.
        await wait_until(lambda: tap.samples().size >= SAMPLE_RATE // 10)
        backend.play("short", tone(1000, 0.15).tobytes())
        await wait_until(lambda: backend.played_ms("short") >= 140)
        await wait_until(lambda: tap.heard_ms() >= 100)
    finally:
        tap.stop()
    assert listener.started == ["short"]
    assert backend.ring.underruns == 0


async def test_a_replay_plays_its_recording_on_the_speaker(pulse, tmp_path):
    """``--replay`` at real speed: the recording's agent channel is heard, at its time."""
    from azure.core.credentials import AzureKeyCredential

    from voicelive_tui.config import Settings
    from voicelive_tui.logs import RunLogs
    from voicelive_tui.replay import Recorded, Recording, Replay, ReplaySession

    start = time.time()
    agent = np.zeros(3 * SAMPLE_RATE, np.int16)
    agent[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + SAMPLE_RATE] = tone(1000, 1.0)  # 0.5-1.5 s
    recording = Recording(start, SAMPLE_RATE, np.zeros_like(agent), agent)
    events = [
        Recorded(start, "received", {"type": "session.created", "session": {"id": "s1"}}),
        Recorded(start + 2.5, "received", {"type": "session.updated", "session": {"id": "s1"}}),
    ]
    replay = Replay(tmp_path / "x_events.jsonl", events, recording)
    tap = MonitorTap(pulse, tmp_path / "monitor.raw")
    logs = RunLogs(tmp_path / "logs")
    session = ReplaySession(
        replay,
        1.0,
        speaker=SoundDeviceBackend("pulse", "pulse"),
        settings=Settings(log_dir=tmp_path / "logs"),
        endpoint="replay://x",
        credential=AzureKeyCredential("replay"),
        logs=logs,
    )
    runner = asyncio.ensure_future(session.run())
    try:
        await wait_until(session.finished.is_set, timeout=15)
        await wait_until(lambda: tap.heard_ms() >= 900, timeout=5)
    finally:
        session.quit()
        await runner
        tap.stop()
        logs.close()
    assert 900 <= tap.heard_ms() <= 1100  # the tone, once
    assert dominant_hz(tap.samples()) == pytest.approx(1000, abs=20)


@EACH_WAY_AND_RATE
async def test_the_callbacks_get_portaudios_own_buffers(pulse, backend_factory, device_rate):
    # sounddevice's numpy streams wrap every buffer in two arrays and a reshape before the
    # callback runs: 25-30 us of the callback thread's 120-160 us a block.
    import sounddevice as sd

    backend, _ = await backend_factory(device_rate=device_rate)
    streams = backend._streams.all  # noqa: SLF001
    assert streams
    assert all(isinstance(s.raw, sd._StreamBase) for s in streams)  # noqa: SLF001
    assert {type(s.raw) for s in streams} <= {sd.RawInputStream, sd.RawOutputStream, sd.RawStream}
    blocks = backend.capture()
    assert len(await asyncio.wait_for(anext(blocks), 10)) == 960


@EACH_WAY
async def test_a_full_duplex_stream_captures_and_plays_through_its_raw_buffers(
    pulse, backend_factory
):
    import sounddevice as sd

    backend, listener = await backend_factory(full_duplex=True)
    (stream,) = backend._streams.all  # noqa: SLF001
    assert type(stream.raw) is sd.RawStream
    blocks = backend.capture()
    assert len(await asyncio.wait_for(anext(blocks), 10)) == 960
    backend.play("item_a", tone(1000, 0.3).tobytes())
    await wait_until(lambda: backend.played_ms("item_a") >= 290)
    assert listener.started == ["item_a"]
