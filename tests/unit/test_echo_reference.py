"""The client echo reference: the timed history the output callback writes and the input
callback reads by the microphone's ADC time, without allocating in either callback."""

from __future__ import annotations

import time
import tracemalloc
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from voicelive_tui.audio.base import SAMPLE_RATE, SILENCE_DB
from voicelive_tui.audio.callbacks import ADC_SLACK_S, RealtimeCallbacks
from voicelive_tui.audio.engine import interleave
from voicelive_tui.audio.levels import LevelMeter
from voicelive_tui.audio.reference import ReferenceHistory, ReferenceReader
from voicelive_tui.audio.ring import PlaybackRing, SampleRing

BLOCK = 480  # 20 ms
RATE = SAMPLE_RATE
DEVICE_S = 0.2  # what the output device holds before a block sounds
ADC_S = BLOCK / RATE  # how old a microphone block is when its callback runs: one block
STREAM_LATENCY_S = 0.04  # what PulseAudio reports for the input stream: more than that


def ramp(start: int, n: int) -> np.ndarray:
    """Samples that say their own output index (mod 30000), to read positions back."""
    return ((np.arange(start, start + n) % 30000) + 1).astype(np.int16)


def play(history: ReferenceHistory, blocks: int, t0: float = 100.0) -> None:
    """Blocks handed to the device, each sounding DEVICE_S after it was written."""
    for _ in range(blocks):
        start = history.written
        history.write(ramp(start, BLOCK), t0 + start / RATE + DEVICE_S)


def test_the_reference_is_what_sounded_when_the_microphone_captured_the_block():
    history = ReferenceHistory(RATE * 4, RATE)
    reader = ReferenceReader(history, in_rate=RATE, max_block=BLOCK, slack=240)
    play(history, 50)  # one second written; the first 0.8 s has sounded by now
    adc = 100.0 + 0.5  # a block captured at 0.5 s: output sample 12000 - 4800 sounded then
    block = reader.next_block(BLOCK, adc)
    expected_index = round((0.5 - DEVICE_S) * RATE)
    assert block[0] == ramp(expected_index, 1)[0]
    assert np.array_equal(block, ramp(expected_index, BLOCK))


def test_silence_before_anything_was_written_and_beyond_what_was():
    history = ReferenceHistory(RATE, RATE)
    reader = ReferenceReader(history, in_rate=RATE, max_block=BLOCK, slack=240)
    assert not reader.next_block(BLOCK, 5.0).any()  # no anchor yet
    play(history, 5, t0=0.0)
    out = np.full(BLOCK, 7, np.int16)
    history.read_at(history.written - 100, out)
    assert out[:100].all() and not out[100:].any()  # not written yet: silence
    history.read_at(-BLOCK, out)
    assert not out.any()


def test_what_an_aborted_output_dropped_unheard_is_silence_in_the_reference():
    history = ReferenceHistory(RATE, RATE)
    play(history, 10, t0=0.0)
    history.silence_unplayed(3 * BLOCK)
    out = np.empty(10 * BLOCK, np.int16)
    history.read_at(0, out)
    assert out[: 7 * BLOCK].all() and not out[7 * BLOCK :].any()


def test_timestamp_jitter_keeps_the_reference_continuous_and_a_lasting_shift_moves_it():
    history = ReferenceHistory(RATE * 8, RATE)
    reader = ReferenceReader(history, in_rate=RATE, max_block=BLOCK, slack=240, settle=4)
    play(history, 100)  # two seconds of sound
    rng = np.random.default_rng(3)
    got = []
    for k in range(20):  # +-8 ms of jitter on every ADC time
        adc = 100.5 + k * BLOCK / RATE + rng.uniform(-0.008, 0.008)
        got.append(reader.next_block(BLOCK, adc).copy())
    joined = np.concatenate(got)
    assert np.all(np.diff(joined.astype(int)) == 1)  # no sample skipped or repeated
    assert reader.reanchors == 1
    # The clocks move 50 ms apart for good, while the speaker sounds: the reference stays
    # continuous (a jump would move the echo's delay under the canceller) ...
    for k in range(20, 30):
        reader.next_block(BLOCK, 100.5 + k * BLOCK / RATE + 0.05)
    assert reader.reanchors == 1
    # ... and follows once the speaker is silent at both places.
    for _ in range(100):
        start = history.written
        history.write(np.zeros(BLOCK, np.int16), 100.0 + start / RATE + DEVICE_S, False)
    for k in range(30, 120):
        reader.next_block(BLOCK, 100.5 + k * BLOCK / RATE + 0.05)
    assert reader.reanchors == 2
    assert abs(reader.drift) <= 240


def test_a_stream_restart_moves_the_reference_at_once():
    history = ReferenceHistory(RATE * 4, RATE)
    reader = ReferenceReader(history, in_rate=RATE, max_block=BLOCK, slack=240, settle=4)
    play(history, 100)
    reader.next_block(BLOCK, 100.5)
    reader.next_block(BLOCK, 100.52 + 0.5)  # 500 ms off: not jitter
    assert reader.reanchors == 2


@pytest.mark.parametrize(
    ("pause_s", "early_s"),
    [(0.1, 0.0), (0.3, 0.0), (1.0, 0.3)],
    ids=["under-the-buffer", "over-it", "after-off-anchors"],
)
def test_a_paused_output_s_next_block_is_where_the_microphone_expects_it(pause_s, early_s):
    """The output stream pauses with only silence queued (aborted: the device's buffered
    silence never sounds) and starts again ``pause_s`` later, its first block sounding at
    once. The reader is laid anew on the new stream's clock: the reply is beside the
    microphone blocks captured while it sounded, not shifted by the pause (which, under
    the jump that re-lays it anyway, it would be while the reply sounds), nor by anchors
    before the pause that were off (``early_s``: PulseAudio's in a stream's first seconds)."""
    history = ReferenceHistory(RATE * 4, RATE)
    reader = ReferenceReader(history, in_rate=RATE, max_block=BLOCK, slack=240, settle=4)
    t0, step = 100.0, BLOCK / RATE
    for j in range(50):
        dac = t0 + j * step + DEVICE_S + early_s
        history.write(np.zeros(BLOCK, np.int16), dac, sounding=False)
        reader.next_block(BLOCK, t0 + j * step)
    paused_blocks = round(pause_s / step)
    for j in range(50, 50 + paused_blocks):  # the microphone goes on meanwhile
        assert not reader.next_block(BLOCK, t0 + j * step).any()
    history.resume()
    resumed = t0 + (50 + paused_blocks) * step
    reply = [ramp(k * BLOCK, BLOCK) for k in range(10)]
    for k, block in enumerate(reply):  # the device's buffer filled at once
        history.write(block, resumed + k * step)
    for k in range(6):
        got = reader.next_block(BLOCK, resumed + k * step)
        assert abs(int(got[0]) - int(reply[k][0])) <= 1, (k, got[0], reply[k][0])
    assert reader.reanchors == 2  # at the start, and at the resume


def test_different_device_rates_take_output_samples_in_proportion():
    history = ReferenceHistory(48_000 * 4, 48_000)
    reader = ReferenceReader(history, in_rate=16_000, max_block=160, slack=480)
    history.write(np.ones(48_000, np.int16), 10.0)
    total = sum(reader.next_block(160, 10.1 + k * 0.01).shape[0] for k in range(33))
    assert total == 33 * 160 * 3


class Clock(SimpleNamespace):
    """PortAudio's time info as the callbacks read it."""


def realtime(
    reference: bool, block: int = BLOCK
) -> tuple[RealtimeCallbacks, PlaybackRing, SampleRing]:
    levels = np.zeros(4, np.float32)
    ring = PlaybackRing(RATE * 10)
    capture = SampleRing(RATE * 10)
    rt = RealtimeCallbacks(
        lambda: None,
        ring=ring,
        capture_ring=capture,
        mic_meter=LevelMeter(levels, 0, 1, 4 * block),
        speaker_meter=LevelMeter(levels, 2, 3, 4 * block),
    )
    rt.in_delay = STREAM_LATENCY_S
    rt.metering = True  # as with the dashboard: the meters run too
    if reference:
        history = ReferenceHistory(RATE * 4, RATE)
        rt.history = history
        rt.reference = ReferenceReader(history, in_rate=RATE, max_block=block, slack=240)
        rt.reference_ring = SampleRing(RATE * 100)
    return rt, ring, capture


class Device:
    """Drives both callbacks as PortAudio would, every buffer and time object made once."""

    def __init__(self, rt: RealtimeCallbacks, block: int = BLOCK) -> None:
        self.rt = rt
        self.frames = block
        self.status = SimpleNamespace(input_overflow=False, output_underflow=False)
        self.indata = np.ones((block, 1), np.int16)
        self.outdata = np.zeros((block, 1), np.int16)
        self.clock = Clock(currentTime=0.0, outputBufferDacTime=0.0, inputBufferAdcTime=0.0)
        self.block = 0

    def run(self, blocks: int, backlog_s: float = 0.0) -> None:
        """``blocks`` output then input calls, 20 ms apart; ``backlog_s``: ADC times that
        much older than the stream holds."""
        rt, clock, status, frames = self.rt, self.clock, self.status, self.frames
        for _ in range(blocks):
            now = 50.0 + self.block * frames / RATE
            clock.currentTime = now
            clock.outputBufferDacTime = now + DEVICE_S
            clock.inputBufferAdcTime = now - ADC_S - backlog_s
            rt.output(self.outdata, frames, clock, status)
            rt.input(self.indata, frames, clock, status)
            self.block += 1


@pytest.mark.parametrize("reference", [False, True])
def test_neither_callback_allocates_buffers_with_or_without_the_reference(reference):
    # Big blocks (200 ms), so that a copy of one, even freed at once, stands far above
    # the small transient objects (floats, views) a Python callback makes.
    big = 4800
    rt, ring, capture = realtime(reference, block=big)
    ring.write("item", np.full(RATE * 9, 1000, np.int16))
    capture = rt.capture_ring = SampleRing(RATE * 100)
    device = Device(rt, block=big)
    device.run(5)  # warm up: first calls, lazily built numpy internals
    capture.read_all()
    if rt.reference_ring is not None:
        rt.reference_ring.read_all()
    tracemalloc.start()
    device.run(100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096  # one int16 block is 9600 bytes
    assert capture.available() == 100 * big
    if rt.reference_ring is not None:
        assert rt.reference_ring.available() == 100 * big
        assert rt.reference_ring.read_all().any()  # the reference was really copied


@pytest.mark.parametrize("metering", [False, True])
def test_the_callbacks_measure_levels_only_while_a_front_end_shows_them(metering):
    # Console mode shows no meter: its callbacks must not pay for one (a cold meter costs
    # about 100 us a block); the dashboard turns metering on and sees both levels move.
    rt, ring, _ = realtime(False)
    rt.metering = metering
    levels = rt.mic_meter._levels
    levels[:] = SILENCE_DB
    ring.write("item", np.full(RATE, 1000, np.int16))
    Device(rt).run(ring.prebuffer // BLOCK + 5)
    moved = levels > SILENCE_DB
    assert list(moved) == [metering] * 4


def test_the_meters_measure_every_other_20_ms_block_more_often_than_the_dashboard_reads():
    class Counting(LevelMeter):
        blocks = 0

        def measure(self, block: np.ndarray) -> None:
            self.blocks += 1
            super().measure(block)

    rt, ring, _ = realtime(False)
    levels = np.zeros(4, np.float32)
    rt.mic_meter = mic = Counting(levels, 0, 1, 4 * BLOCK)
    rt.speaker_meter = speaker = Counting(levels, 2, 3, 4 * BLOCK)
    ring.write("item", np.full(RATE * 2, 1000, np.int16))
    Device(rt).run(100)  # 2 s of 20 ms blocks
    assert mic.blocks == speaker.blocks == 50  # 25 a second: the dashboard reads 20


def test_callbacks_send_the_played_audio_at_the_microphone_s_time():
    """Through both callbacks: the reference beside a microphone block is what the
    output callback handed over DEVICE_S + ADC_S earlier (the block sounding then)."""
    rt, ring, _ = realtime(True)
    ring.write("item", ramp(0, RATE * 2))
    ring.release()
    Device(rt).run(50)
    assert rt.reference_ring is not None
    ref = rt.reference_ring.read_all()
    # The microphone block of call k was captured at k*20 ms - ADC_S; what sounded then
    # was handed over at that time minus DEVICE_S.
    k = 40
    index = round((k * BLOCK / RATE - ADC_S - DEVICE_S) * RATE)
    assert ref[k * BLOCK] == ramp(index, 1)[0]


def test_an_adc_time_claiming_a_backlog_the_stream_does_not_hold_is_not_believed():
    """PulseAudio's first second: ADC times 700 ms old while the samples are fresh (one
    block old, as its own ADC times say once they settle; not the stream's latency, which
    laid the reference 15-25 ms off on a real loopback)."""
    rt, ring, _ = realtime(True)
    ring.write("item", ramp(0, RATE * 2))
    ring.release()
    assert 0.7 > ADC_SLACK_S
    Device(rt).run(50, backlog_s=0.7)
    assert rt.reference_ring is not None
    ref = rt.reference_ring.read_all()
    k = 40
    index = round((k * BLOCK / RATE - ADC_S - DEVICE_S) * RATE)
    assert ref[k * BLOCK] == ramp(index, 1)[0]


def test_interleave_puts_the_microphone_first():
    mic = np.array([1, 2, 3], "<i2").tobytes()
    ref = np.array([-1, -2, -3], "<i2").tobytes()
    assert np.frombuffer(interleave(mic, ref), "<i2").tolist() == [1, -1, 2, -2, 3, -3]


def test_a_microphone_block_waits_for_its_reference_on_the_loop() -> None:
    """The loop drains the rings while the input callback writes them: a microphone block
    is never sent beside a reference it does not have yet (silence in its place would put
    the reference a block later for good)."""
    from voicelive_tui.audio.engine import SoundDeviceBackend

    backend = SoundDeviceBackend(block_ms=20)
    backend.echo_reference = True
    backend._setup_rates(RATE, RATE)
    rt = backend.callbacks
    assert rt.reference_ring is not None
    mic = np.arange(1, 2 * BLOCK + 1, dtype=np.int16)
    rt.capture_ring.write(mic)  # two microphone blocks ...
    rt.reference_ring.write(-mic[:BLOCK])  # ... and the reference of the first only
    backend._drain()
    sent = list(backend._capture._blocks)
    assert len(sent) == 1
    rt.reference_ring.write(-mic[BLOCK:])
    backend._drain()
    sent = list(backend._capture._blocks)
    assert len(sent) == 2
    frames = np.frombuffer(b"".join(sent), "<i2").reshape(-1, 2)
    assert np.array_equal(frames[:, 1], -frames[:, 0])  # every sample beside its own


@pytest.mark.parametrize("reference", [False, True])
def test_whole_blocks_go_out_as_the_byte_buffers_would_send_them(reference: bool) -> None:
    """The loop's short way for whole blocks at 24 kHz sends the very bytes of the general
    way (resamplers and byte buffers), block for block, whatever the callback wrote when:
    whole blocks, part blocks, a reference behind the microphone."""
    from voicelive_tui.audio.engine import SoundDeviceBackend

    def backend() -> SoundDeviceBackend:
        b = SoundDeviceBackend(block_ms=20)
        b.echo_reference = reference
        b._setup_rates(RATE, RATE)
        return b

    short, general = backend(), backend()
    rng = np.random.default_rng(26)
    signal = rng.integers(-32768, 32767, RATE * 10, dtype=np.int16)
    sent: list[bytes] = []
    expected: list[bytes] = []
    written = ref_written = 0
    shortcuts = 0
    # Mostly whole blocks (as PortAudio gives them), now and then a block in parts.
    steps = [[BLOCK]] * 6 + [[2 * BLOCK], [BLOCK // 3, 2 * BLOCK // 3], [BLOCK // 2] * 2]
    chunks = [n for k in rng.integers(0, len(steps), 300) for n in steps[k]]
    for n in chunks:
        lag = int(rng.choice([0] * 6 + [BLOCK // 2]))  # the reference a little behind
        for b in (short, general):
            rt = b.callbacks
            assert rt.reference_ring is not None
            rt.reference_ring.write(-signal[ref_written : written + n - lag])
            rt.capture_ring.write(signal[written : written + n])
        ref_written, written = written + n - lag, written + n
        if short._drain_whole_blocks():
            shortcuts += 1
        else:
            short._drain_through_buffers()
        general._drain_through_buffers()
        for b, out in ((short, sent), (general, expected)):
            out += b._capture._blocks
            b._capture._blocks.clear()
    assert 50 < shortcuts < len(chunks)  # the short way was taken, and the other too
    assert len(sent) > 300
    assert sent == expected


def test_the_echo_check_finds_a_delayed_quieter_copy_and_nothing_in_noise() -> None:
    from voicelive_tui.audio.echo_check import analyse, probe

    played = np.concatenate(
        [np.zeros(RATE // 2, np.int16), probe(RATE, 1.0), np.zeros(RATE, np.int16)]
    )
    delay = RATE * 137 // 1000
    echo = np.zeros_like(played, dtype=np.float64)
    echo[delay:] = played[:-delay] * 0.1  # -20 dB
    rng = np.random.default_rng(5)
    mic = (echo + rng.standard_normal(echo.size) * 30).astype(np.int16)
    report = analyse(mic, played)
    assert report.hears
    assert report.delay_ms == pytest.approx(137, abs=1)
    assert report.erl_db == pytest.approx(20, abs=1)
    assert (
        "client" in report.recommendation() and "a headset is best" not in report.recommendation()
    )
    loud = analyse((echo * 10).astype(np.int16), played)
    assert loud.erl_db is not None and loud.erl_db < 1
    assert "a headset is best" in loud.recommendation()
    quiet = analyse((rng.standard_normal(echo.size) * 300).astype(np.int16), played)
    assert not quiet.hears and "does not hear" in quiet.recommendation()


def test_a_late_callback_after_the_stream_settled_keeps_its_old_adc_time():
    """A busy machine runs one input callback 500 ms late: its samples are that old (the
    ADC time says so), and the reference stays where it is (taken for fresh, it was laid
    500 ms ahead of the echo)."""
    rt, ring, _ = realtime(True)
    ring.write("item", ramp(0, RATE * 8))
    ring.release()
    device = Device(rt)
    device.run(200)  # 4 s: the stream has settled
    assert rt.reference is not None and rt.reference_ring is not None
    laid = rt.reference.reanchors
    clock, status = device.clock, device.status
    now = 50.0 + device.block * BLOCK / RATE
    clock.currentTime, clock.inputBufferAdcTime = now + 0.5, now - ADC_S
    rt.input(device.indata, BLOCK, clock, status)  # late
    device.block += 1
    device.run(10)
    ref = rt.reference_ring.read_all()
    assert rt.reference.reanchors == laid
    assert np.all(np.diff(ref[-11 * BLOCK :].astype(np.int32)) % 30000 == 1)  # continuous


def test_the_first_block_of_a_started_stream_sounds_at_once():
    """PortAudio gives the first block of a stream just started a DAC time of now (the
    device's buffer is empty): the reply's first sample is stamped as sounding now, not a
    whole device buffer later (the stream's reported latency, the fallback)."""
    rt, ring, _ = realtime(reference=True)
    rt.out_delay = DEVICE_S
    ring.write("item", np.full(RATE, 1000, np.int16))
    device = Device(rt)
    clock, before = device.clock, time.monotonic()
    clock.currentTime = clock.outputBufferDacTime = 70.0
    rt.output(device.outdata, BLOCK, clock, device.status)
    assert ring.output_delay == 0.0
    ((item, sounds_at),) = ring.poll_started()
    assert item == "item" and sounds_at - before < DEVICE_S / 2
    clock.outputBufferDacTime = 0.0  # a host without times: the stream's latency
    rt.output(device.outdata, BLOCK, clock, device.status)
    assert ring.output_delay == DEVICE_S


def test_a_stream_that_spins_after_a_start_keeps_the_audio_for_when_it_keeps_time():
    """A restarted stream that PulseAudio spins (hundreds of callbacks in a few ms, each
    flagged as under-run) gets silence: the ring keeps the audio, and the reference lays
    nothing that did not sound. Once the device takes blocks at its pace the audio plays
    from its first sample; a late callback later on is an under-run, not a spin."""
    rt, ring, _ = realtime(reference=True)
    ring.write("item", ramp(0, 2 * RATE))
    ring.release()
    device = Device(rt)
    clock, status, out = device.clock, device.status, device.outdata
    status.output_underflow = True
    clock.currentTime = 80.0  # the first call: nothing to tell a spin by yet
    rt.output(out, BLOCK, clock, status)
    assert rt.history is not None
    heard = rt.history.sound_end
    for k in range(1, 200):  # 199 more calls in 20 ms
        clock.currentTime = 80.0 + k * 0.0001
        clock.outputBufferDacTime = clock.currentTime + DEVICE_S
        rt.output(out, BLOCK, clock, status)
        assert not out.any()
    assert rt.output_spins == 199 and rt.output_underflows == 1
    assert ring.pending_samples() == 2 * RATE - BLOCK
    assert rt.history.sound_end == heard
    status.output_underflow = False
    clock.currentTime += BLOCK / RATE
    rt.output(out, BLOCK, clock, status)
    assert out[:, 0].tolist() == ramp(BLOCK, BLOCK).tolist()
    for _ in range(60):  # 1.2 s at the device's pace
        clock.currentTime += BLOCK / RATE
        rt.output(out, BLOCK, clock, status)
    underflows = rt.output_underflows
    status.output_underflow = True  # a late callback and its catch-up, after the start
    clock.currentTime += 3 * BLOCK / RATE
    rt.output(out, BLOCK, clock, status)
    clock.currentTime += 0.0005
    rt.output(out, BLOCK, clock, status)
    assert out[:, 0].tolist() == ramp(63 * BLOCK, BLOCK).tolist()
    assert rt.output_underflows == underflows + 2


def test_a_stream_that_spins_in_threes_keeps_the_audio_too():
    """PulseAudio's spin with a loopback reading the monitor (measured): callbacks in
    threes flagged as under-run, the first of each 1-4 ms after the one before, and now
    and then two unflagged ones at once: none of it sounds, so none takes audio; a
    callback at the device's pace again plays on from where the spin began."""
    rt, ring, _ = realtime(reference=True)
    ring.write("item", ramp(0, 2 * RATE))
    ring.release()
    device = Device(rt)
    clock, status, out = device.clock, device.status, device.outdata
    clock.currentTime = 80.0  # the restart: three blocks fill the buffer
    for k in range(3):
        clock.outputBufferDacTime = clock.currentTime + k * BLOCK / RATE
        rt.output(out, BLOCK, clock, status)
    for k in range(100):  # 400 ms of spinning
        clock.currentTime += (1 + k % 4) / 1000
        status.output_underflow = k % 20 != 19
        for j in range(3 if status.output_underflow else 2):
            clock.outputBufferDacTime = clock.currentTime + j * BLOCK / RATE
            rt.output(out, BLOCK, clock, status)
            assert not out.any()
    assert rt.output_spins == 95 * 3 + 5 * 2
    assert ring.pending_samples() == 2 * RATE - 3 * BLOCK
    status.output_underflow = False
    clock.currentTime += 3 * BLOCK / RATE
    rt.output(out, BLOCK, clock, status)
    assert out[:, 0].tolist() == ramp(3 * BLOCK, BLOCK).tolist()


class FakeStream:
    """A PortAudio stream on :class:`SoundCard`'s clock (the edge this test cannot reach)."""

    def __init__(self, card: SoundCard, kind: str, **kwargs) -> None:
        self.card, self.kind = card, kind
        self.callback = kwargs["callback"]
        self.frames = kwargs["blocksize"]
        latency = kwargs["latency"]
        self.latency = 0.02 if isinstance(latency, str) else float(latency)
        self.data = np.zeros((self.frames, 1), np.int16)
        self.active = self.filled = False
        card.streams.append(self)

    def start(self) -> None:
        self.active, self.filled = True, False

    def abort(self) -> None:
        self.active = False

    def close(self) -> None:
        self.card.streams.remove(self)


class SoundCard:
    """PortAudio (``sd``) and a sound card: :meth:`tick` runs one block (20 ms) of its
    clock. A started output stream fills its buffer at once (its first block sounding
    now, each next one a block later), then takes a block a tick, sounding a buffer
    later; an input stream delivers a block a tick, captured a block ago."""

    def __init__(self) -> None:
        self.now = 50.0
        self.streams: list[FakeStream] = []
        self.status = SimpleNamespace(input_overflow=False, output_underflow=False)
        self.clock = Clock(currentTime=0.0, outputBufferDacTime=0.0, inputBufferAdcTime=0.0)
        self.sd = SimpleNamespace(
            RawInputStream=lambda **kw: FakeStream(self, "input", **kw),
            RawOutputStream=lambda **kw: FakeStream(self, "output", **kw),
            RawStream=None,  # no full duplex here
        )

    def tick(self) -> None:
        clock, step = self.clock, BLOCK / RATE
        clock.currentTime = self.now
        for stream in [s for s in self.streams if s.active]:
            if stream.kind == "input":
                clock.inputBufferAdcTime = self.now - ADC_S
                stream.callback(stream.data, stream.frames, clock, self.status)
                continue
            dacs = [self.now + stream.latency]
            if not stream.filled:
                stream.filled = True
                dacs = [self.now + k * step for k in range(round(stream.latency / step))]
            for dac in dacs:
                clock.outputBufferDacTime = dac
                stream.callback(stream.data, stream.frames, clock, self.status)
        self.now += step


def backend_on_card() -> tuple[SoundCard, Any]:
    """A backend with the client echo reference, its streams open on a :class:`SoundCard`
    and started, 200 ms of output buffer."""
    from voicelive_tui.audio.engine import SoundDeviceBackend
    from voicelive_tui.audio.streams import DeviceStreams

    card = SoundCard()
    backend = SoundDeviceBackend(block_ms=20, output_latency=0.2)
    backend.echo_reference = True
    backend._sd = card.sd
    backend._streams = DeviceStreams(card.sd, backend._finished_callback)
    backend._setup_rates(RATE, RATE)
    backend._open_stream("input", 0, "low")
    backend._open_stream("output", 0, backend.output_latency)
    backend._streams.start()
    return card, backend


def assert_the_next_reply_is_referenced(card: SoundCard, backend: Any) -> None:
    """5 ms after the output stream (re)started, a reply (a ramp) is queued: beside the
    microphone block captured j - 1 blocks later is the reply's sample sounding then,
    within 10 ms."""
    reference_ring = backend.callbacks.reference_ring
    reference_ring.read_all()
    card.now += 0.005
    backend.ring.write("reply", ramp(0, RATE))
    backend.ring.release()
    for _ in range(25):
        card.tick()
    reference = reference_ring.read_all()
    for j in range(1, 25):
        got = int(reference[j * BLOCK])
        want = int(ramp(round((j * BLOCK / RATE - ADC_S) * RATE), 1)[0])
        assert abs(got - want) <= 240, (j, got, want)


def test_a_reopened_output_lays_the_reference_anew_on_its_first_block():
    """The device starved: the output stream is reopened with twice the buffer (between
    items), and a reply queued at once sounds from its first block. Beside each
    microphone block is what sounded when it was captured: the reply from its first
    sample (kept on the old stream's clock, the reference ran the old buffer's depth
    behind the echo for the whole reply: the speaker was never silent to lay it anew)."""
    card, backend = backend_on_card()
    for _ in range(100):  # two seconds of silence: the reference is laid on the clock
        card.tick()
    backend.callbacks.output_underflows += 1  # as the callback counts a late call
    backend._grow_output_latency()
    assert backend.output_latency == pytest.approx(0.4)
    assert_the_next_reply_is_referenced(card, backend)  # the reopen took 5 ms


def test_a_barge_in_restart_lays_the_reference_anew_on_its_first_block():
    """Barge-in aborts the output stream to drop what its buffer held and starts it again:
    a new clock, as after a reopen. The next reply, queued at once, sounds from the
    restarted stream's first block, and the reference beside each microphone block is that
    reply's sample sounding then (kept on the aborted stream's clock, it ran the buffer's
    depth behind the echo)."""
    card, backend = backend_on_card()
    backend.ring.write("first", np.full(2 * RATE, 7, np.int16))
    backend.ring.release()
    for _ in range(50):  # a second of the first reply: the device holds 200 ms of it
        card.tick()
    assert backend.ring.device_queued() > 0
    backend.barge_in()
    assert_the_next_reply_is_referenced(card, backend)  # the restart took 5 ms
