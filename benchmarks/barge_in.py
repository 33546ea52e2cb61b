"""Barge-in and the playback callback: our PlaybackRing vs the quickstart's queue.

The baseline is the playback of Microsoft's Voice Live quickstart (``AudioProcessor``):
a ``queue.Queue`` of ``AudioPlaybackPacket(seq_num, data)``, a ``remaining`` bytes
buffer sliced per callback, and ``skip_pending_audio()`` that moves ``playback_base`` so
older packets are dropped when dequeued. It is reimplemented here as written, except
that it returns the bytes instead of handing them to PyAudio.

Both are fed the same ``response.audio.delta``-sized chunks (50, 200 and 1,000 ms of a
10 s reply) and called with the same 20 ms block; and a burst as the service sends it
(about 2.5x faster than real time: 36 s of a 60 s reply queued) in the glitch benchmark's
2 ms deltas (``flood=500``). Figures: samples dropped while queueing, stale samples leaving
the callback after the epoch bump (over many bump points), callback cost per block (steady
state) and the memory a callback allocates (tracemalloc peak above the level before the
call).
"""

from __future__ import annotations

import queue
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Optional

import numpy as np
from common import Mode, Section, ratio

from voicelive_tui.audio.base import MIC_PEAK, MIC_RMS, SILENCE_DB
from voicelive_tui.audio.levels import LevelMeter
from voicelive_tui.audio.ring import PlaybackRing

RATE = 24_000


class SeedPlayback:
    """The quickstart's playback path (AudioProcessor), faithfully."""

    class AudioPlaybackPacket:
        def __init__(self, seq_num: int, data: Optional[bytes]):  # noqa: UP045 - as in seed
            self.seq_num = seq_num
            self.data = data

    def __init__(self) -> None:
        self.playback_queue: queue.Queue[SeedPlayback.AudioPlaybackPacket] = queue.Queue()
        self.playback_base = 0
        self.next_seq_num = 0
        self.remaining = b""

    def callback(self, frame_count: int) -> bytes:
        frame_count *= 2  # pyaudio.get_sample_size(pyaudio.paInt16)
        out = self.remaining[:frame_count]
        self.remaining = self.remaining[frame_count:]
        while len(out) < frame_count:
            try:
                packet = self.playback_queue.get_nowait()
            except queue.Empty:
                out = out + bytes(frame_count - len(out))
                continue
            if not packet or not packet.data:
                break
            if packet.seq_num < self.playback_base:
                if len(self.remaining) > 0:
                    self.remaining = b""
                continue
            num_to_take = frame_count - len(out)
            out = out + packet.data[:num_to_take]
            self.remaining = packet.data[num_to_take:]
        return out

    def _get_and_increase_seq_num(self) -> int:
        seq = self.next_seq_num
        self.next_seq_num += 1
        return seq

    def queue_audio(self, audio_data: Optional[bytes]) -> None:  # noqa: UP045
        self.playback_queue.put(
            SeedPlayback.AudioPlaybackPacket(
                seq_num=self._get_and_increase_seq_num(), data=audio_data
            )
        )

    def skip_pending_audio(self) -> None:
        self.playback_base = self._get_and_increase_seq_num()

    def dropped(self) -> int:
        return 0  # an unbounded queue


class OursPlayback:
    """Our output callback's work: PlaybackRing.read_into on the device buffer column."""

    def __init__(self, block: int, *, levels: bool) -> None:
        self.ring = PlaybackRing(RATE * RING_SECONDS)
        self.outdata = np.zeros((block, 1), np.int16)  # what sounddevice hands the callback
        self.meter = (
            LevelMeter(np.full(4, SILENCE_DB, np.float32), MIC_RMS, MIC_PEAK, block)
            if levels
            else None
        )

    def callback(self, frame_count: int) -> np.ndarray:
        mono = self.outdata[:, 0]
        self.ring.read_into(mono)
        if self.meter is not None:
            self.meter.measure(mono)
        return mono

    def queue_audio(self, pcm: bytes) -> None:
        self.ring.write("item", np.frombuffer(pcm, np.int16))

    def skip_pending_audio(self) -> None:
        self.ring.bump_epoch()

    def dropped(self) -> int:
        return self.ring.overflows


def speech_like(seconds: float) -> bytes:
    """Non-zero audio (a tone with an offset phase), so stale samples can be counted."""
    t = np.arange(int(seconds * RATE)) / RATE
    return np.round(9000 * np.sin(2 * np.pi * 220 * t + 0.3)).astype("<i2").tobytes()


def chunks(pcm: bytes, chunk_ms: int) -> list[bytes]:
    step = RATE * chunk_ms // 1000 * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


def cost_us(
    make: Callable[[], object], deltas: list[bytes], block: int, rounds: int
) -> list[float]:
    """Per-callback cost over whole responses; deltas arrive ahead of playback."""
    costs: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        player = make()
        for delta in deltas:
            player.queue_audio(delta)  # type: ignore[attr-defined]
        blocks = sum(len(d) for d in deltas) // 2 // block
        cb = player.callback  # type: ignore[attr-defined]
        for _ in range(blocks):
            t0 = clock()
            cb(block)
            costs.append((clock() - t0) / 1000)
    return costs


def stale_samples(
    make: Callable[[], object], deltas: list[bytes], block: int
) -> tuple[list[int], list[float]]:
    """Old samples leaving the callback after skip_pending_audio, for many bump points,
    and the microseconds the first callback after each bump took."""
    results = []
    first_us = []
    for bump_after in range(1, 60, 3):  # bump after 1, 4, 7, ... blocks of playback
        player = make()
        for delta in deltas:
            player.queue_audio(delta)  # type: ignore[attr-defined]
        for _ in range(bump_after):
            player.callback(block)  # type: ignore[attr-defined]
        player.skip_pending_audio()  # type: ignore[attr-defined]
        stale = 0
        for n in range(RATE * 2 // block):  # two seconds of callbacks after the bump
            t0 = time.perf_counter_ns()
            out = player.callback(block)  # type: ignore[attr-defined]
            if n == 0:
                first_us.append((time.perf_counter_ns() - t0) / 1000)
            samples = np.frombuffer(out, np.int16) if isinstance(out, bytes) else out
            stale += int(np.count_nonzero(samples))
        results.append(stale)
    return results, first_us


def allocated_bytes(
    make: Callable[[], object], deltas: list[bytes], block: int, calls: int = 200
) -> list[int]:
    """Per callback, the most memory it held allocated above what was in use before it."""
    player = make()
    for delta in deltas:
        player.queue_audio(delta)  # type: ignore[attr-defined]
    cb = player.callback  # type: ignore[attr-defined]
    cb(block)
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(calls):
            before, _peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            cb(block)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return peaks


REPLIES = ((50, 10.0), (200, 10.0), (1000, 10.0), (2, 36.0))
"""(delta ms, seconds queued): a 10 s reply, and 36 s of a burst in the flood's deltas."""
BLOCK_MS = 20
RING_SECONDS = 300
"""As the backends size the playback ring."""


def dropped_when_queued(make: Callable[[], object], deltas: list[bytes]) -> int:
    """Samples the player refused while the whole reply was queued at once."""
    player = make()
    for delta in deltas:
        player.queue_audio(delta)  # type: ignore[attr-defined]
    return int(player.dropped())  # type: ignore[attr-defined]


def run(mode: Mode) -> Section:
    block = RATE * BLOCK_MS // 1000
    rounds = {"smoke": 1, "quick": 4}.get(mode.name, 20)
    section = Section(
        "barge_in",
        "Barge-in and the playback callback: PlaybackRing vs the quickstart's queue",
        [
            "delta, queued",
            "playback",
            "samples dropped while queueing",
            "stale samples after bump (mean / max)",
            "stale, blocks (max)",
            "goal",
            "us for the block after the bump (median / max)",
            "us per block (median / p99)",
            "cost vs seed (median)",
            "bytes allocated per callback (median / max)",
        ],
    )
    contenders: dict[str, Callable[[], object]] = {
        "seed (queue.Queue + bytes slicing)": SeedPlayback,
        "ours (PlaybackRing.read_into)": lambda: OursPlayback(block, levels=False),
        "ours + RMS/peak levels": lambda: OursPlayback(block, levels=True),
    }
    for delta_ms, seconds in REPLIES:
        deltas = chunks(speech_like(seconds), delta_ms)
        seed_cost = None
        for name, make in contenders.items():
            cost_us(make, deltas[: max(1, 400 // delta_ms)], block, 2)  # warm-up
            med, p99, _worst = summary(cost_us(make, deltas, block, rounds))
            seed_cost = seed_cost if seed_cost is not None else med
            stale, bump_us = stale_samples(make, deltas, block)
            allocs = allocated_bytes(make, deltas, block)
            worst_blocks = max(stale) / block
            section.rows.append(
                [
                    f"{delta_ms} ms, {seconds:.0f} s",
                    name,
                    f"{dropped_when_queued(make, deltas)}",
                    f"{statistics.mean(stale):.0f} / {max(stale)}",
                    f"{worst_blocks:.2f}",
                    "<= 1 block: **met**"
                    if worst_blocks <= 1
                    else f"<= 1 block: **missed** by {worst_blocks - 1:.0f} blocks",
                    f"{statistics.median(bump_us):.1f} / {max(bump_us):.1f}",
                    f"{med:.1f} / {p99:.1f}",
                    ratio(med, seed_cost),
                    f"{statistics.median(allocs):.0f} / {max(allocs)}",
                ]
            )
    section.notes.append(
        f"`python benchmarks/run.py --only barge_in`: {BLOCK_MS} ms blocks ({block} frames), "
        f"responses of 10 s of a 220 Hz tone in 50 / 200 / 1,000 ms deltas, and 36 s of it "
        f"in 2 ms deltas (a burst at 2.5x real time of a 60 s reply in the glitch "
        f"benchmark's flood; ring of {RING_SECONDS} s, as the backends), bumped after "
        f"1, 4, ... 58 blocks of playback; cost over {rounds} whole responses. The seed keeps "
        "playing the rest of the packet it sliced (`remaining`), so its stale audio grows "
        "with the delta; ours checks the epoch at the start of the next block. On a device "
        "the block already handed to PortAudio can still sound: at most one block more."
    )
    return section


def summary(costs: list[float]) -> tuple[float, float, float]:
    ordered = sorted(costs)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        ordered[-1],
    )
