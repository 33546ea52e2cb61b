"""Playback callback cost and barge-in silence: our PlaybackRing vs the quickstart's queue.

The baseline is the playback of Microsoft's Voice Live quickstart (``AudioProcessor``):
a ``queue.Queue`` of ``AudioPlaybackPacket(seq_num, data)``, a ``remaining`` bytes
buffer sliced per callback, and ``skip_pending_audio()`` that moves ``playback_base`` so
older packets are dropped when dequeued. It is reimplemented here as written, except
that it returns the bytes instead of handing them to PyAudio.

Both are fed the same ``response.audio.delta``-sized chunks (150 ms by default) and
called with the same block size. Figures printed are from this run:

* callback cost per block in microseconds (median, p99, max), steady state;
* barge-in: stale audio (ms of audio time) played after the bump, over many bump points.

Run: ``python benchmarks/audio_callback.py [--block-ms 20] [--chunk-ms 150] [--append]``
(``--append`` adds the table to benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import platform
import queue
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np

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


class OursPlayback:
    """Our output callback's work: PlaybackRing.read_into on the device buffer column."""

    def __init__(self, block: int, *, levels: bool) -> None:
        self.ring = PlaybackRing(RATE * 120)
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


def stale_ms(
    make: Callable[[], object], deltas: list[bytes], block: int
) -> tuple[list[float], list[float]]:
    """Old audio (ms of audio time) played after skip_pending_audio, for many bump
    points, and the cost (us) of the first callback after each bump."""
    results = []
    bump_costs = []
    for bump_after in range(1, 60, 3):  # bump after 1, 4, 7, ... blocks of playback
        player = make()
        for delta in deltas:
            player.queue_audio(delta)  # type: ignore[attr-defined]
        for _ in range(bump_after):
            player.callback(block)  # type: ignore[attr-defined]
        player.skip_pending_audio()  # type: ignore[attr-defined]
        stale = 0
        for i in range(50):
            t0 = time.perf_counter_ns()
            out = player.callback(block)  # type: ignore[attr-defined]
            if i == 0:
                bump_costs.append((time.perf_counter_ns() - t0) / 1000)
            samples = np.frombuffer(out, np.int16) if isinstance(out, bytes) else out
            stale += int(np.count_nonzero(samples))
        results.append(stale * 1000 / RATE)
    return results, bump_costs


def summary(costs: list[float]) -> tuple[float, float, float]:
    ordered = sorted(costs)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        ordered[-1],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block-ms", type=int, default=20)
    parser.add_argument("--chunk-ms", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per response")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--append", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args(argv)
    block = RATE * args.block_ms // 1000
    deltas = chunks(speech_like(args.seconds), args.chunk_ms)

    contenders: dict[str, Callable[[], object]] = {
        "seed (queue.Queue + bytes slicing)": SeedPlayback,
        "ours (PlaybackRing.read_into)": lambda: OursPlayback(block, levels=False),
        "ours + RMS/peak levels": lambda: OursPlayback(block, levels=True),
    }
    cost_stats = {}
    stale_stats = {}
    for name, make in contenders.items():
        cost_us(make, deltas[:4], block, 2)  # warm-up
        cost_stats[name] = summary(cost_us(make, deltas, block, args.rounds))
        stale, bump_costs = stale_ms(make, deltas, block)
        stale_stats[name] = (statistics.mean(stale), max(stale), statistics.median(bump_costs))

    seed, ours = list(contenders)[:2]
    lines = [
        f"### Playback callback: seed vs PlaybackRing ({time.strftime('%Y-%m-%d')})",
        "",
        f"`python benchmarks/audio_callback.py --block-ms {args.block_ms} --chunk-ms "
        f"{args.chunk_ms}` -- Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}; {args.rounds} responses of {args.seconds:g} s in "
        f"{args.chunk_ms} ms deltas, {block}-frame blocks.",
        "",
        "| playback | median us/block | p99 us/block | max us | first block after bump, "
        "median us | stale after barge-in, mean ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in contenders:
        med, p99, worst = cost_stats[name]
        mean_stale, max_stale, bump_cost = stale_stats[name]
        lines.append(
            f"| {name} | {med:.1f} | {p99:.1f} | {worst:.0f} | {bump_cost:.1f} | "
            f"{mean_stale:.1f} | {max_stale:.1f} |"
        )
    ratio_med = cost_stats[seed][0] / cost_stats[ours][0]
    ratio_p99 = cost_stats[seed][1] / cost_stats[ours][1]
    lines += [
        "",
        f"Seed / ours cost: {ratio_med:.2f}x at the median, {ratio_p99:.2f}x at p99. "
        f"Stale audio after a bump: seed {stale_stats[seed][0]:.1f} ms mean "
        f"({stale_stats[seed][1]:.1f} ms worst, the rest of the packet in `remaining`), "
        f"ours {stale_stats[ours][0]:.1f} ms (the barrier is checked at the start of the "
        "next block; on a device only the block already handed to PortAudio can still "
        "sound, at most one block).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        results = Path(__file__).with_name("RESULTS.md")
        with results.open("a", encoding="utf-8") as f:
            if results.stat().st_size == 0:
                f.write("# Benchmark results\n\n")
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
