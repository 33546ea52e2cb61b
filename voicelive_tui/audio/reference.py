"""The echo reference: what left the speaker when the microphone captured each block.

``--echo-reference client`` sends the service interleaved stereo, channel 0 the
microphone and channel 1 what the speaker played at the instant the microphone captured
those samples. :class:`ReferenceHistory` is where that comes from:

* the output callback :meth:`~ReferenceHistory.write`\\ s every block it hands the device
  (silence included) with PortAudio's ``outputBufferDacTime`` of its first sample: one
  *anchor* (output index, DAC time) per block;
* the input callback :meth:`~ReferenceHistory.read_at`\\ s the samples whose DAC time is
  the ``inputBufferAdcTime`` of its block, by the newest anchor, into a preallocated block.

So a sample's place in channel 1 is when it sounded, not when it was written: the
device's own buffer (200-800 ms over a forwarded socket) is left out, and what is left
between the two channels is the room's (or the loopback's) acoustic delay.

The reading position is kept continuous (a sample follows the one before it) and is laid
anew on the clock only when the two stay more than ``slack`` samples apart for ``settle``
blocks in a row, so the jitter of PortAudio's timestamps does not cut the reference into
pieces; and, unless they are more than ``JUMP_S`` apart (a stream restarted), only while
the speaker is silent at both places, so the echo's delay never jumps under a canceller
that is following it (measured: a 20 ms move mid-reply let the echo through).
(Measured on PulseAudio: single timestamps jump by tens of milliseconds, and for the first
second or two of a stream the input's ADC times claim a backlog of some 700 ms that its
samples do not have; the input callback then takes the block as captured one block
before it ran, in a stream's first seconds only: ``callbacks.ADC_SETTLE_S``.)

Lock-free, single producer (the output callback) and single consumer (the input
callback): the producer writes the samples, then the anchor's row, then publishes the
count; the consumer reads only rows and samples already published. Neither side allocates
a buffer. Samples not written yet, or overwritten already, read as silence; so does what
an aborted output stream dropped unheard (:meth:`~ReferenceHistory.silence_unplayed`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ReferenceHistory", "ReferenceReader"]

_ANCHORS = 64
JUMP_S = 0.2
"""The reference and the clock this far apart: laid anew even while the speaker sounds."""


class ReferenceHistory:
    """Output samples by output index, with the DAC time of each block (see module doc)."""

    def __init__(self, capacity: int, rate: int) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self.rate = rate
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._anchors = np.zeros((_ANCHORS, 2), dtype=np.float64)
        self._blocks = 0
        self._resumed = False
        self.resumes = 0
        """Times the output stream started (see ``resume``)."""
        self.written = 0
        """Output samples written so far (the next block's output index)."""
        self.sound_end = 0
        """Output index just after the last block that held sound (not silence)."""

    @property
    def capacity(self) -> int:
        """How many samples of history are kept."""
        return self._buf.shape[0]

    # --------------------------------------------------------------- output callback

    def write(self, block: np.ndarray, dac_time: float, sounding: bool = True) -> None:
        """Producer: the block handed to the device, its first sample sounding at
        ``dac_time``; ``sounding``: it holds sound (False: silence)."""
        w = self.written
        n = block.shape[0]
        cap = self._buf.shape[0]
        pos = w % cap
        first = min(n, cap - pos)
        self._buf[pos : pos + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:]
        k = self._blocks % _ANCHORS
        self._anchors[k, 0] = w
        self._anchors[k, 1] = dac_time
        if sounding:
            self.sound_end = w + n
        self.written = w + n
        self._blocks += 1
        if self._resumed:  # published after the block's anchor, which the reader then uses
            self._resumed = False
            self.resumes += 1

    # --------------------------------------------------------------- loop (stream stopped)

    def resume(self) -> None:
        """The output stream starts (first, after an idle pause, reopened between items, or
        restarted by a barge-in; it is stopped now). Its blocks' times are a new clock (the
        last anchors before may be off: PulseAudio's are in a stream's first seconds), so
        the reader lays its position anew on the first block's anchor; the speaker was
        silent meanwhile, so no canceller is following an echo then."""
        self._resumed = True

    def silence_unplayed(self, samples: int) -> None:
        """The newest ``samples`` written were dropped unheard (an aborted output stream)."""
        w = self.written
        start = max(0, w - min(samples, self._buf.shape[0]))
        cap = self._buf.shape[0]
        pos, n = start % cap, w - start
        first = min(n, cap - pos)
        self._buf[pos : pos + first] = 0
        self._buf[: n - first] = 0

    # --------------------------------------------------------------- input callback

    def index_at(self, when: float) -> float:
        """Output index sounding at ``when`` (PortAudio time), by the newest anchor;
        -1.0 before the first block."""
        blocks = self._blocks
        if blocks == 0:
            return -1.0
        k = (blocks - 1) % _ANCHORS
        return float(self._anchors[k, 0] + (when - self._anchors[k, 1]) * self.rate)

    def read_at(self, start: int, out: np.ndarray) -> None:
        """Consumer: samples ``[start, start + len(out))`` into ``out``; silence where the
        history has none (not written yet, or overwritten)."""
        n = out.shape[0]
        w = self.written
        cap = self._buf.shape[0]
        lo = max(start, w - cap, 0)
        hi = min(start + n, w)
        if hi <= lo:
            out[:] = 0
            return
        if lo > start:
            out[: lo - start] = 0
        if hi < start + n:
            out[hi - start :] = 0
        k = hi - lo
        pos = lo % cap
        first = min(k, cap - pos)
        o = lo - start
        out[o : o + first] = self._buf[pos : pos + first]
        if first < k:
            out[o + first : o + k] = self._buf[: k - first]


class ReferenceReader:
    """The input callback's side: the reference for each microphone block, kept continuous.

    Output samples are taken at the output's rate for the input's (the two devices' rates
    may differ); ``slack`` is how far (output samples) the reading position may be from
    PortAudio's clock for ``settle`` blocks in a row before it is laid anew.
    """

    def __init__(
        self,
        history: ReferenceHistory,
        *,
        in_rate: int,
        max_block: int,
        slack: int,
        settle: int = 4,
    ) -> None:
        self.history = history
        self.in_rate = in_rate
        self.out_rate = history.rate
        self.slack = slack
        self.settle = settle
        self.jump = round(JUMP_S * history.rate)
        self._apart = 0
        self.block = np.zeros(
            max_block * history.rate // in_rate + 2, dtype=np.int16
        )  # preallocated: the callback only takes views of it
        self.position = -1
        """Output index of the next reference sample (-1: not laid on the clock yet)."""
        self.reanchors = 0
        """Times the position was laid anew (the first time included)."""
        self.drift = 0.0
        """The last block's difference between the clock's index and the kept position."""
        self._due = 0
        self._resumes = 0

    def next_block(self, frames: int, adc_time: float) -> np.ndarray:
        """The reference for ``frames`` microphone samples whose first was captured at
        ``adc_time``: a view of the preallocated block (output rate)."""
        self._due += frames * self.out_rate
        n = self._due // self.in_rate
        self._due -= n * self.in_rate
        history = self.history
        resumed = history.resumes != self._resumes
        self._resumes = history.resumes
        target = history.index_at(adc_time)
        if target >= 0.0:
            self.drift = target - self.position
            self._apart = self._apart + 1 if abs(self.drift) > self.slack else 0
            quiet = history.sound_end <= min(self.position, target)
            if (
                self.position < 0
                or resumed
                or (self._apart > self.settle and quiet)
                or abs(self.drift) > self.jump
            ):
                self.position = round(target)
                self.reanchors += 1
                self._apart = 0
        out = self.block[: min(n, self.block.shape[0])]
        if self.position < 0:
            out[:] = 0
        else:
            self.history.read_at(self.position, out)
            self.position += out.shape[0]
        return out
