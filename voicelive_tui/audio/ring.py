"""Lock-free single-producer single-consumer rings of int16 samples.

:class:`SampleRing` carries microphone samples from the capture callback (producer) to
the asyncio loop (consumer). :class:`PlaybackRing` carries agent audio from the loop
(producer) to the playback callback (consumer) and adds two things the session needs:

* **playback epochs** -- :meth:`PlaybackRing.bump_epoch` publishes a barrier (the write
  index at the bump). The consumer checks the barrier once per block and jumps its read
  index over everything written before it, so stale audio stops within one block;
* **per-item accounting** -- every :meth:`PlaybackRing.write` names a response item.
  Item ids are mapped to small integer *slots* on the producer side, so the consumer only
  ever touches preallocated lists of ints (samples played per slot, first-play stamps).
  Consecutive writes of one item in one epoch extend one *segment*, so a reply that
  arrives far ahead of real time in thousands of small deltas (the service sends bursts
  at about 2.5x real time) takes one entry of the segment table, not one per delta;
* **heard, not just handed over** -- the consumer is told how long the device takes to
  sound a block (``output_delay``), so :meth:`PlaybackRing.heard_samples` leaves out what
  still sits in the device buffer, and what an aborted device dropped;
* **a jitter buffer** -- starting from silence, playback waits until ``prebuffer``
  samples are queued (or the producer releases what it wrote), so a
  stream that arrives in real time, late now and then, plays without stutter.

Why no lock is needed: each index has exactly one writer. The producer owns
``_write``, ``_seg_write`` and ``_barrier``; the consumer owns ``_read``, ``_seg_read``
and the played counters. Data is written before the index that publishes it, and every
publish is one attribute store (atomic under the GIL; ``_barrier`` is a tuple replaced
whole). Indices are total counts, never wrapped, so ``write - read`` is the fill level.
The producer only ever extends the newest segment, and the consumer never moves past
the newest segment: it moves on only once it sees a newer one (reading ``_seg_write``
before the end of the one it leaves), and by then that end is final.

Consumer methods (``read_into``) never allocate buffers: they copy between preallocated
numpy arrays through views and update scalar counters. They are safe in a real-time
audio callback. Producer methods run on the loop thread and may allocate.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from .base import SAMPLE_RATE

_FORGET_AFTER = 256
"""How many finished items keep their played count after their slot is reused."""


def _copy_in(buf: np.ndarray, start: int, samples: np.ndarray) -> None:
    """Copy ``samples`` into the circular ``buf`` at absolute index ``start``."""
    cap = buf.shape[0]
    n = samples.shape[0]
    pos = start % cap
    first = min(n, cap - pos)
    buf[pos : pos + first] = samples[:first]
    if first < n:
        buf[: n - first] = samples[first:]


def _copy_out(buf: np.ndarray, start: int, out: np.ndarray, n: int) -> None:
    """Copy ``n`` samples of the circular ``buf`` from absolute ``start`` into ``out``."""
    cap = buf.shape[0]
    pos = start % cap
    first = min(n, cap - pos)
    out[:first] = buf[pos : pos + first]
    if first < n:
        out[first:n] = buf[: n - first]


class SampleRing:
    """SPSC ring of int16 samples; the producer drops (and counts) what does not fit."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._write = 0
        self._read = 0
        self.overruns = 0
        """Samples the producer dropped because the consumer fell behind."""

    @property
    def capacity(self) -> int:
        """How many samples fit."""
        return self._buf.shape[0]

    def available(self) -> int:
        """Samples written and not yet read."""
        return self._write - self._read

    def write(self, samples: np.ndarray) -> int:
        """Producer: append int16 ``samples``; returns how many were accepted."""
        w = self._write
        room = self._buf.shape[0] - (w - self._read)
        n = samples.shape[0]
        if n > room:
            self.overruns += n - room
            n = room
        if n > 0:
            _copy_in(self._buf, w, samples[:n])
            self._write = w + n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Consumer: copy up to ``len(out)`` samples into ``out``; returns the count."""
        r = self._read
        n = min(out.shape[0], self._write - r)
        if n > 0:
            _copy_out(self._buf, r, out, n)
            self._read = r + n
        return n

    def skip(self, n: int) -> int:
        """Consumer: drop up to ``n`` samples unread; returns how many."""
        n = max(0, min(n, self._write - self._read))
        self._read += n
        return n

    def read_all(self) -> np.ndarray:
        """Consumer (loop side, allocates): every available sample as a new array."""
        out = np.empty(self.available(), dtype=np.int16)
        n = self.read_into(out)
        return out[:n]


class PlaybackRing:
    """SPSC ring of agent audio with playback epochs and per-item played counts.

    ``rate`` is the rate of the samples stored (the output device's rate); it only
    matters for the millisecond helpers.
    """

    def __init__(
        self,
        capacity: int,
        *,
        rate: int = SAMPLE_RATE,
        max_segments: int = 8192,
        slots: int = 64,
    ) -> None:
        if capacity <= 0 or max_segments <= 0 or slots <= 0:
            raise ValueError("capacity, max_segments and slots must be positive")
        self.rate = rate
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._write = 0
        self._read = 0
        # Segment ring: one entry per write(), the absolute end index and the item slot.
        self._seg_end = [0] * max_segments
        self._seg_slot = [0] * max_segments
        self._seg_write = 0
        self._seg_read = 0
        # Producer-owned: the item and epoch of the newest segment (None: do not extend).
        self._open_item: str | None = None
        self._open_epoch = 0
        # (epoch, first sample index of that epoch); replaced whole by the producer.
        self._barrier: tuple[int, int] = (0, 0)
        # Producer-owned slot bookkeeping.
        self._slots = slots
        self._gen = [0] * slots
        self._base = [0] * slots
        self._item_of: list[str | None] = [None] * slots
        self._slot_of: dict[str, int] = {}
        self._next_slot = 0
        self._reported_gen = [0] * slots
        self._finished: OrderedDict[str, int] = OrderedDict()
        self.overflows = 0
        """Samples the producer dropped because the ring (or segment table) was full."""
        self.prebuffer = 0
        """Samples to have queued before playback starts from silence (set by the producer)."""
        self._released = 0
        # Device output indices [from, to) an aborted device dropped (never heard).
        self._lost: tuple[int, int] = (0, 0)
        # Consumer-owned counters.
        self._played = [0] * slots
        self._started_gen = [0] * slots
        self._started_at = [0.0] * slots
        self.started_pending = False
        """Set by the consumer when an item played its first sample; see poll_started()."""
        self.discarded = 0
        """Stale samples skipped because of an epoch bump."""
        self.underruns = 0
        """Times the ring ran dry in the middle of an item (silence played, then more of it)."""
        self.output_delay = 0.0
        """Seconds from the consumer's read until the block sounds (set by the device side)."""
        self.out_count = 0
        """Samples handed to the device so far, silence included: the output index."""
        self.heard_mark = 0
        """Output index being heard at the last read (``out_count - output_delay``)."""
        self.last_real_out = 0
        """Output index just after the last real (not silence) sample."""
        self._run_from = 0
        # Output index where the run of real samples ending at last_real_out began: the
        # ring read those contiguously (see requeue_device_queue).
        self._last_out = [0] * slots
        self._cur_slot = -1
        self._dry_slot = -1
        self._dry_gen = 0
        self._was_playing = False

    # ----------------------------------------------------------------- producer side

    @property
    def capacity(self) -> int:
        """How many samples fit."""
        return self._buf.shape[0]

    @property
    def epoch(self) -> int:
        """The producer's current playback epoch."""
        return self._barrier[0]

    def _slot_for(self, item_id: str) -> int:
        slot = self._slot_of.get(item_id)
        if slot is not None:
            return slot
        slot = self._next_slot
        self._next_slot = (slot + 1) % self._slots
        old = self._item_of[slot]
        if old is not None:
            self._finished[old] = self._played[slot] - self._base[slot]
            del self._slot_of[old]
            while len(self._finished) > _FORGET_AFTER:
                self._finished.popitem(last=False)
        self._base[slot] = self._played[slot]
        self._gen[slot] += 1
        self._item_of[slot] = item_id
        self._slot_of[item_id] = slot
        return slot

    def write(self, item_id: str, samples: np.ndarray) -> int:
        """Producer: queue int16 ``samples`` of ``item_id``; returns how many fit."""
        slot = self._slot_for(item_id)
        n = samples.shape[0]
        if n == 0:
            return 0
        w = self._write
        room = self._buf.shape[0] - (w - self._read)
        extend = self._open_item == item_id and self._open_epoch == self._barrier[0]
        if not extend and self._seg_write - self._seg_read >= len(self._seg_end):
            room = 0
        if n > room:
            self.overflows += n - room
            n = room
        if n == 0:
            return 0
        _copy_in(self._buf, w, samples[:n])
        if extend:
            self._seg_end[(self._seg_write - 1) % len(self._seg_end)] = w + n
        else:
            seg = self._seg_write % len(self._seg_end)
            self._seg_end[seg] = w + n
            self._seg_slot[seg] = slot
            self._seg_write += 1
            self._open_item, self._open_epoch = item_id, self._barrier[0]
        # Publish the segment (or its new end) before the samples: any sample the
        # consumer can see already has its segment.
        self._write = w + n
        return n

    def release(self) -> None:
        """Producer: what is written so far may start playing below ``prebuffer``."""
        self._released = self._write

    def released_all(self) -> bool:
        """Producer: everything written so far was released (see ``release``)."""
        return self._released >= self._write

    def device_queued(self) -> int:
        """Real samples handed to the device and not heard yet (as of the last read)."""
        return max(0, self.last_real_out - self.heard_mark)

    def drop_device_queue(self) -> None:
        """Producer, with the consumer stopped: the device dropped what it held unheard."""
        self._lost = (self.heard_mark, self.out_count)

    def requeue_device_queue(self) -> int:
        """Producer, with the consumer stopped (the output device is being switched): what
        the old device held unheard goes back to the front of the ring, to be played by the
        next one from where the listener was. Returns how many samples went back."""
        r = self._read
        seg_end, seg_cap = self._seg_end, len(self._seg_end)
        n = self.last_real_out - max(self.heard_mark, self._run_from)
        # Not before a barge-in's barrier, nor into what the producer wrote over since.
        n = min(n, r - self._barrier[1], r + self.capacity - self._write)
        if n <= 0:
            return 0
        back = r - n
        s = self._seg_read
        while s > 0 and seg_end[(s - 1) % seg_cap] > back:
            if s - 1 <= self._seg_write - seg_cap:
                return 0  # that segment's entry was reused: its item is unknown
            s -= 1
        pos, i = back, s
        while pos < r:
            stop = min(seg_end[i % seg_cap], r)
            if stop > pos:
                slot = self._seg_slot[i % seg_cap]
                self._played[slot] -= stop - pos
                self._last_out[slot] = self.heard_mark
            pos = stop
            i += 1
        self._seg_read = s
        self._read = back
        self.last_real_out = self.heard_mark
        return n

    def heard_samples(self, item_id: str) -> int:
        """Samples of ``item_id`` heard so far: played, minus what was still in the device."""
        slot = self._slot_of.get(item_id)
        if slot is None:
            return self._finished.get(item_id, 0)
        handed = self._played[slot] - self._base[slot]
        last = self._last_out[slot]
        lost_from, lost_to = self._lost
        if lost_from < last <= lost_to:
            unheard = last - lost_from
        else:
            unheard = last - self.heard_mark
        return handed - min(handed, max(0, unheard))

    def heard_ms(self, item_id: str) -> int:
        """Milliseconds of ``item_id`` heard so far."""
        return self.heard_samples(item_id) * 1000 // self.rate

    def bump_epoch(self) -> int:
        """Producer: drop everything queued so far; returns the new epoch."""
        epoch = self._barrier[0] + 1
        self._barrier = (epoch, self._write)
        return epoch

    def pending_samples(self) -> int:
        """Samples queued in the current epoch and not yet played."""
        start = self._barrier[1]
        return self._write - max(self._read, start)

    def pending_ms(self) -> int:
        """Milliseconds queued in the current epoch and not yet played."""
        return self.pending_samples() * 1000 // self.rate

    def played_samples(self, item_id: str) -> int:
        """Samples of ``item_id`` the consumer has played so far."""
        slot = self._slot_of.get(item_id)
        if slot is None:
            return self._finished.get(item_id, 0)
        return self._played[slot] - self._base[slot]

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of ``item_id`` the consumer has played so far."""
        return self.played_samples(item_id) * 1000 // self.rate

    def poll_started(self) -> list[tuple[str, float]]:
        """Producer side: items whose first sample was played since the last poll.

        Returns ``(item_id, time.monotonic() when its first sample sounds)`` pairs.
        """
        if not self.started_pending:
            return []
        self.started_pending = False  # clear before scanning: a racing start re-sets it
        started = []
        for slot in range(self._slots):
            gen = self._started_gen[slot]
            if gen != self._reported_gen[slot] and gen == self._gen[slot]:
                self._reported_gen[slot] = gen
                item = self._item_of[slot]
                if item is not None:
                    started.append((item, self._started_at[slot]))
        return started

    def queued_items(self) -> list[tuple[str, np.ndarray]]:
        """Producer, with the consumer stopped: what the current epoch still has to play,
        item by item in order (copies), to be carried into a ring of another rate."""
        r = max(self._read, self._barrier[1])
        seg_end, seg_cap = self._seg_end, len(self._seg_end)
        out: list[tuple[str, np.ndarray]] = []
        for s in range(self._seg_read, self._seg_write):
            stop = min(seg_end[s % seg_cap], self._write)
            if stop <= r:
                continue
            item = self._item_of[self._seg_slot[s % seg_cap]]
            part = np.empty(stop - r, np.int16)
            _copy_out(self._buf, r, part, stop - r)
            if item is not None and out and out[-1][0] == item:
                out[-1] = (item, np.concatenate((out[-1][1], part)))
            elif item is not None:
                out.append((item, part))
            r = stop
        return out

    def carried(self, item_id: str, played: int, started: bool) -> None:
        """Producer, before any sample of ``item_id`` is written here: the item already
        played ``played`` samples (at this ring's rate) elsewhere, and its first sample was
        reported (``started``) -- so its counts go on and it is not reported again."""
        slot = self._slot_for(item_id)
        self._base[slot] -= played
        if started:
            self._started_gen[slot] = self._reported_gen[slot] = self._gen[slot]

    def started(self, item_id: str) -> bool:
        """Whether the first sample of ``item_id`` was played (producer side)."""
        slot = self._slot_of.get(item_id)
        if slot is None:
            return item_id in self._finished
        return self._started_gen[slot] == self._gen[slot]

    # ----------------------------------------------------------------- consumer side

    def read_into(self, out: np.ndarray) -> int:
        """Consumer: fill ``out`` with queued samples, then silence; returns real samples.

        Real-time safe: no buffer allocation, no lock. Honours the epoch barrier first.
        """
        n = out.shape[0]
        start = self._barrier[1]  # the tuple is replaced whole: one read
        r = self._read
        base = self.out_count
        self.heard_mark = base - int(self.output_delay * self.rate)
        seg_end = self._seg_end
        seg_cap = len(seg_end)
        run_goes_on = self.last_real_out == base
        if r < start:
            self.discarded += start - r
            r = start
            self._was_playing = False  # silence after a barge-in is not an underrun
            self._dry_slot = -1
            run_goes_on = False
        # Move past finished segments, never past the newest (it may still grow).
        s = self._seg_read
        while s + 1 < self._seg_write and seg_end[s % seg_cap] <= r:
            s += 1
        self._seg_read = s
        k = self._write - r
        if not self._was_playing and k < self.prebuffer and self._released <= r:
            k = 0  # starting from silence: wait for the jitter buffer to fill
        if k > n:
            k = n
        if k > 0:
            slot = self._seg_slot[self._seg_read % seg_cap]
            if slot == self._dry_slot and self._gen[slot] == self._dry_gen:
                self.underruns += 1  # more of the item that ran dry: it was starved
            self._dry_slot = -1
            _copy_out(self._buf, r, out, k)
            self._account(r, r + k, base - r)
            if not run_goes_on:
                self._run_from = base
            self._read = r + k
            self.last_real_out = base + k
        if k < n:
            out[k:] = 0
            if (k > 0 or self._was_playing) and self._cur_slot >= 0:
                self._dry_slot = self._cur_slot
                self._dry_gen = self._gen[self._cur_slot]
        self._was_playing = k == n
        self.out_count = base + n
        return k

    def _account(self, pos: int, end: int, shift: int) -> None:
        """Add played samples in [pos, end) to their items' counters.

        ``shift`` turns a ring index into an output index (``out_count`` units).
        """
        seg_end = self._seg_end
        seg_cap = len(seg_end)
        s = self._seg_read
        while pos < end:
            i = s % seg_cap
            stop = seg_end[i]
            if stop > end:
                stop = end
            slot = self._seg_slot[i]
            if stop > pos:
                self._played[slot] += stop - pos
                self._last_out[slot] = stop + shift
                self._cur_slot = slot
                gen = self._gen[slot]
                if self._started_gen[slot] != gen:
                    offset = pos + shift - self.out_count
                    self._started_at[slot] = (
                        time.monotonic() + self.output_delay + offset / self.rate
                    )
                    self._started_gen[slot] = gen
                    self.started_pending = True
                pos = stop
            if s + 1 >= self._seg_write:
                break  # the newest segment holds everything up to ``end``
            if pos >= seg_end[i]:
                s += 1
        self._seg_read = s
