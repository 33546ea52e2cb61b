"""Properties of the playback and capture rings (hypothesis)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_tui.audio.carry import carry_over
from voicelive_tui.audio.ring import PlaybackRing, SampleRing

# An operation: ("write", item index, n samples) / ("read", block size) / ("bump",).
ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 3), st.integers(0, 40)),
        st.tuples(st.just("read"), st.integers(1, 30)),
        st.tuples(st.just("bump")),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops_strategy, capacity=st.integers(1, 64))
def test_playback_ring_plays_current_epoch_in_order_and_nothing_stale(ops, capacity):
    ring = PlaybackRing(capacity, max_segments=16, slots=4)
    next_value = 1  # every written sample is unique and non-zero; silence is 0
    queued: list[int] = []  # model: samples of the current epoch not yet played
    stale: set[int] = set()
    played_per_item = {f"item{i}": 0 for i in range(4)}
    owner: dict[int, str] = {}
    for op in ops:
        if op[0] == "write":
            item = f"item{op[1]}"
            values = np.arange(next_value, next_value + op[2], dtype=np.int16)
            next_value += op[2]
            accepted = ring.write(item, values)
            assert 0 <= accepted <= op[2]
            queued.extend(values[:accepted].tolist())
            owner.update({int(v): item for v in values[:accepted]})
        elif op[0] == "bump":
            ring.bump_epoch()
            stale.update(queued)
            queued.clear()
        else:
            out = np.full(op[1], -1, dtype=np.int16)
            got = ring.read_into(out)
            expected = queued[: op[1]]
            del queued[: op[1]]
            assert got == len(expected)
            assert out[:got].tolist() == expected  # in order, none lost or duplicated
            assert not (set(out.tolist()) & stale)  # nothing stale after a bump
            assert (out[got:] == 0).all()  # underrun: silence
            for v in expected:
                played_per_item[owner[v]] += 1
        assert ring.pending_samples() == len(queued)
    for item, n in played_per_item.items():
        assert ring.played_samples(item) == n


def test_underrun_fills_silence_and_is_counted_when_the_item_goes_on():
    ring = PlaybackRing(100)
    ring.write("a", np.full(30, 7, np.int16))
    out = np.empty(20, np.int16)
    assert ring.read_into(out) == 20
    assert ring.read_into(out) == 10
    assert out[:10].tolist() == [7] * 10 and not out[10:].any()
    assert ring.out_count == 40  # silence is handed to the device too
    assert ring.read_into(out) == 0  # idle silence
    assert ring.underruns == 0  # the item may simply have ended
    ring.write("a", np.full(5, 7, np.int16))  # no: more of it came late
    assert ring.read_into(out) == 5
    assert ring.underruns == 1


def test_the_end_of_an_item_followed_by_another_is_not_an_underrun():
    ring = PlaybackRing(100)
    out = np.empty(20, np.int16)
    ring.write("a", np.ones(30, np.int16))
    ring.read_into(out)
    ring.read_into(out)
    ring.write("b", np.ones(30, np.int16))
    ring.read_into(out)
    assert ring.underruns == 0


def test_prebuffer_holds_the_start_until_enough_is_queued_or_released():
    ring = PlaybackRing(1000)
    ring.prebuffer = 50
    out = np.empty(20, np.int16)
    ring.write("a", np.ones(30, np.int16))
    assert ring.read_into(out) == 0 and ring.played_samples("a") == 0
    ring.write("a", np.ones(25, np.int16))
    assert ring.read_into(out) == 20  # 55 queued: it starts
    assert ring.read_into(out) == 20
    assert ring.read_into(out) == 15
    ring.write("b", np.ones(10, np.int16))
    assert ring.read_into(out) == 0  # a short item waits ...
    ring.release()
    assert ring.read_into(out) == 10  # ... until the producer says that is all
    assert ring.underruns == 0


def test_heard_leaves_out_what_the_device_still_holds():
    ring = PlaybackRing(10_000, rate=1000)
    ring.output_delay = 0.1  # the device sounds a block 100 samples after it is read
    out = np.empty(50, np.int16)
    ring.write("a", np.ones(400, np.int16))
    for _ in range(4):
        ring.read_into(out)
    assert ring.played_samples("a") == 200
    # At the 4th read, output 150 was being heard: 0..150 of the item.
    assert ring.heard_samples("a") == 50
    for _ in range(6):
        ring.read_into(out)
    assert ring.played_samples("a") == 400
    assert ring.heard_samples("a") == 350
    # Last read at output 450, hearing 350; the item's audio ended at 400.
    assert ring.device_queued() == 50


def test_playback_start_is_stamped_when_it_will_sound():
    ring = PlaybackRing(1000)
    ring.output_delay = 0.5
    ring.write("a", np.ones(30, np.int16))
    before = time.monotonic()
    ring.read_into(np.empty(40, np.int16))
    [(item, when)] = ring.poll_started()
    assert item == "a" and before + 0.5 <= when <= time.monotonic() + 0.5


def test_a_dropped_device_queue_was_never_heard():
    ring = PlaybackRing(10_000, rate=1000)
    ring.output_delay = 0.1
    out = np.empty(50, np.int16)
    ring.write("a", np.ones(1000, np.int16))
    for _ in range(6):
        ring.read_into(out)  # 300 handed; at the last read, 150 heard
    ring.bump_epoch()
    ring.drop_device_queue()  # the device was aborted: 150..300 never sounded
    for _ in range(10):
        ring.read_into(out)  # the stream runs on (silence) after a restart
    assert ring.played_samples("a") == 300
    assert ring.heard_samples("a") == 150


def test_bump_discards_within_one_block_and_counts():
    ring = PlaybackRing(1000)
    ring.write("a", np.full(500, 1, np.int16))
    out = np.empty(48, np.int16)
    ring.read_into(out)
    ring.bump_epoch()
    ring.write("b", np.full(10, 2, np.int16))
    assert ring.read_into(out) == 10
    assert out[:10].tolist() == [2] * 10
    assert ring.discarded == 452
    assert ring.underruns == 0
    assert ring.epoch == 1
    assert ring.played_samples("a") == 48 and ring.played_samples("b") == 10


def test_first_sample_played_is_reported_once_per_item():
    ring = PlaybackRing(1000)
    ring.write("a", np.ones(30, np.int16))
    ring.write("b", np.ones(30, np.int16))
    out = np.empty(40, np.int16)
    assert ring.poll_started() == []
    ring.read_into(out)
    assert [item for item, _ in ring.poll_started()] == ["a", "b"]
    ring.read_into(out)
    assert ring.poll_started() == []


def test_slots_are_recycled_and_finished_items_keep_their_count():
    ring = PlaybackRing(1000, slots=2)
    out = np.empty(5, np.int16)
    for item in ("a", "b", "c"):
        ring.write(item, np.ones(5, np.int16))
        ring.read_into(out)
    assert [ring.played_samples(i) for i in ("a", "b", "c")] == [5, 5, 5]
    assert ring.played_ms("unknown") == 0


@settings(max_examples=200, deadline=None)
@given(
    writes=st.lists(st.integers(0, 50), max_size=40),
    reads=st.lists(st.integers(1, 50), max_size=40),
)
def test_sample_ring_is_fifo_across_wraparound(writes, reads):
    ring = SampleRing(37)
    written: list[int] = []
    read: list[int] = []
    value = 0
    for i in range(max(len(writes), len(reads))):
        if i < len(writes):
            block = np.arange(value, value + writes[i], dtype=np.int16)
            value += writes[i]
            accepted = ring.write(block)
            written.extend(block[:accepted].tolist())
        if i < len(reads):
            out = np.empty(reads[i], np.int16)
            n = ring.read_into(out)
            read.extend(out[:n].tolist())
    read.extend(ring.read_all().tolist())
    assert read == written
    assert ring.overruns == value - len(written)


def run_interleaved(*targets: Callable[[], None]) -> None:
    """Run ``targets`` in threads until they end (60 s at most). Both sides of a ring spin
    when it is full or empty; switching threads every 10 us instead of 5 ms interleaves
    them far more often (and ends in a fraction of the time)."""
    threads = [threading.Thread(target=target) for target in targets]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)


def test_playback_ring_across_threads_keeps_order():
    """A producer thread and a consumer thread: output is the input, in order."""
    ring = PlaybackRing(257, max_segments=64)
    total = 50_000
    data = (np.arange(total) % 30000 + 1).astype(np.int16)
    received: list[np.ndarray] = []

    def produce() -> None:
        pos = 0
        while pos < total:
            pos += ring.write("x", data[pos : pos + 97])

    def consume() -> None:
        out = np.empty(64, np.int16)
        got = 0
        while got < total:
            n = ring.read_into(out)
            received.append(out[:n].copy())
            got += n

    run_interleaved(produce, consume)
    assert np.array_equal(np.concatenate(received), data)
    assert ring.played_samples("x") == total


def test_a_burst_of_small_deltas_is_held_whole_and_dropped_within_one_block():
    """The service sends a reply ahead of real time (about 2.5x, in bursts): 36 s of a
    60 s reply can be queued, and in the glitch benchmark's 2 ms deltas (flood=500) that is
    18,000 writes. The backends' ring holds them all, and a barge-in still drops them
    within one block."""
    rate = 24_000
    ring = PlaybackRing(rate * 300, rate=rate)  # the backends' size (ring_seconds=300)
    delta = np.arange(1, rate * 2 // 1000 + 1, dtype=np.int16)  # 2 ms, never silent
    for _ in range(18_000):
        assert ring.write("reply", delta) == delta.size
    assert ring.overflows == 0
    assert ring.pending_ms() == 36_000
    block = np.empty(rate // 50, np.int16)  # 20 ms
    assert ring.read_into(block) == block.size
    ring.bump_epoch()
    assert ring.read_into(block) == 0 and not block.any()
    assert ring.played_ms("reply") == 20
    ring.write("next", delta)
    assert ring.read_into(block) == delta.size
    assert ring.played_samples("next") == delta.size


def test_two_items_across_threads_keep_their_counts():
    """Writes alternate between items in runs (segments extended, then new ones) while
    a consumer thread reads: every sample is counted to the item that wrote it."""
    ring = PlaybackRing(509, max_segments=8)
    runs = [("a" if i % 3 else "b", 1 + (i * 37) % 90) for i in range(600)]
    written = {"a": 0, "b": 0}
    for item, n in runs:
        written[item] += n
    total = sum(written.values())
    done = threading.Event()

    def produce() -> None:
        for item, n in runs:
            left = n
            while left:
                left -= ring.write(item, np.ones(left, np.int16))

    def consume() -> None:
        out = np.empty(64, np.int16)
        got = 0
        while got < total:
            got += ring.read_into(out)
        done.set()

    run_interleaved(produce, consume)
    assert done.is_set()
    assert {item: ring.played_samples(item) for item in written} == written


def _heard_stream(ring: PlaybackRing, reads: int, block: int = 50) -> np.ndarray:
    out = np.empty(block, np.int16)
    blocks = []
    for _ in range(reads):
        ring.read_into(out)
        blocks.append(out.copy())
    return np.concatenate(blocks)


def test_a_device_switch_replays_what_the_old_device_held_unheard():
    """Switching outputs: what the old device held, never heard, plays on the new one from
    where the listener was; nothing is counted as heard twice."""
    ring = PlaybackRing(10_000, rate=1000)
    ring.output_delay = 0.1  # the old device sounds a block 100 samples after it is read
    item = np.arange(1, 601, dtype=np.int16)
    ring.write("a", item[:200])
    ring.write("b", item[200:])  # two items: the rewind crosses the boundary between them
    first = _heard_stream(ring, 6)  # 300 handed; at the last read, 150 heard (+50 read)
    heard_on_old = 300 - 100 - 50  # the device held the last 150
    assert ring.requeue_device_queue() == 150
    assert ring.played_samples("a") == 150 and ring.played_samples("b") == 0
    assert ring.heard_samples("a") == 150 and ring.device_queued() == 0
    ring.output_delay = 0.0
    second = _heard_stream(ring, 10)
    # The listener heard 1..150 on the old device, then 151.. on the new one.
    heard = np.concatenate((first[:heard_on_old], second))
    assert np.array_equal(heard[:600], item)
    assert ring.played_samples("a") == 200 and ring.played_samples("b") == 400


def test_nothing_before_a_barge_in_is_replayed_on_the_new_device():
    ring = PlaybackRing(10_000, rate=1000)
    ring.output_delay = 0.1
    ring.write("a", np.ones(1000, np.int16))
    _heard_stream(ring, 6)
    ring.bump_epoch()
    ring.drop_device_queue()
    assert ring.requeue_device_queue() == 0
    ring.write("b", np.full(100, 7, np.int16))
    ring.output_delay = 0.0
    assert set(_heard_stream(ring, 4).tolist()) == {0, 7}


def test_silence_between_items_is_not_replayed_as_audio():
    ring = PlaybackRing(10_000, rate=1000)
    ring.output_delay = 0.2
    ring.write("a", np.arange(1, 121, dtype=np.int16))
    ring.release()
    _heard_stream(ring, 4)  # 120 real, then 80 of silence; hearing 0..0 (200 - 200)
    assert ring.requeue_device_queue() == 120
    ring.output_delay = 0.0
    again = _heard_stream(ring, 3)
    assert np.array_equal(again[:120], np.arange(1, 121))


def test_a_switch_to_another_rate_carries_the_queue_over_resampled():
    """Issue 25: an output at another rate gets a new ring; what was queued (and what the
    old device held unheard) plays on it, resampled, and each item's played count and
    "first sample played" go on from where they were."""
    old = PlaybackRing(100_000, rate=24_000)
    old.output_delay = 0.0
    old.write("a", np.full(24_000, 1000, np.int16))  # 1 s
    old.write("b", np.full(12_000, -1000, np.int16))  # 0.5 s
    _heard_stream(old, 240)  # 0.5 s of "a" played
    assert old.poll_started() and old.played_ms("a") == 500
    new = PlaybackRing(200_000, rate=48_000)
    assert carry_over(old, new) == pytest.approx(48_000, abs=64)  # 0.5 s of a + 0.5 s of b
    assert new.played_ms("a") == 500 and new.played_ms("b") == 0
    assert new.poll_started() == []  # "a" is not reported started a second time
    heard = _heard_stream(new, 1000, block=96)  # 2 s at 48 kHz; no jitter-buffer wait
    assert new.played_ms("a") == pytest.approx(1000, abs=2)
    assert new.played_ms("b") == pytest.approx(500, abs=2)
    first_b = int(np.flatnonzero(heard < -500)[0])
    assert first_b == pytest.approx(24_000, abs=64)  # the rest of "a" came first
    assert [item for item, _at in new.poll_started()] == ["b"]


def test_nothing_is_carried_after_a_barge_in():
    old = PlaybackRing(10_000, rate=1000)
    old.write("a", np.ones(1000, np.int16))
    old.bump_epoch()
    assert carry_over(old, PlaybackRing(10_000, rate=2000)) == 0
