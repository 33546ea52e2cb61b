"""Run a repaint at most once per interval, however often it is asked for.

The session can report hundreds of events a second; the screen needs a few frames a
second. A request inside the interval is not dropped: it runs once at the interval's end,
with everything that arrived meanwhile. Nothing runs while nothing is requested.

Every screen update costs a compositor pass, whatever its size, so when the dashboard
already has a frame clock (the meters' sampler) throttles ride on its ticks instead of
timers of their own: one pass draws the meters, the events and the state together.

The :class:`FrameClock` itself wakes the loop only when nothing else does: while the
microphone's blocks are sent (50 wake-ups a second of their own), its frames ride on those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.message_pump import MessagePump
from textual.timer import Timer


class Throttle:
    """Calls ``callback`` on ``node``'s loop at most once every ``interval`` seconds."""

    def __init__(self, node: MessagePump, interval: float, callback: Callable[[], None]) -> None:
        self._node = node
        self._interval = interval
        self._callback = callback
        self._last = float("-inf")
        self._timer: Timer | None = None
        self._clocked = False
        self._wanted = False

    def ride(self) -> None:
        """From now on, deferred runs wait for :meth:`tick` (a frame clock) not a timer."""
        self._clocked = True

    def tick(self) -> None:
        """A frame: run a deferred request once the interval has passed."""
        if self._wanted and time.monotonic() - self._last >= self._interval:
            self._run()

    def request(self) -> None:
        """Run now if the last run is an interval ago, else once when it is."""
        if self._clocked:
            self._wanted = True
            return
        if self._timer is not None:
            return
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self._run()
        else:
            self._timer = self._node.set_timer(wait, self._run)

    def flush(self) -> None:
        """Run now (a key press wants the screen current), cancelling a deferred run."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._run()

    def _run(self) -> None:
        self._timer = None
        self._wanted = False
        self._last = time.monotonic()
        self._callback()


class FrameClock:
    """Calls ``callback`` ``fps`` times a second on ``node``'s loop, on wake-ups the loop
    has anyway when it can.

    A timer of its own would wake the loop ``fps`` times a second, apart from the wake-ups
    that already come: the audio hand-off and the session's events, 50 or more a second
    while the microphone is live. So :meth:`chance` (called on those) runs a frame once
    one is due, and the clock's own timer, always put off past the next frame by
    ``grace`` (two 20 ms blocks: a busy machine's callbacks come in pairs), fires only
    when no chance came in time (muted, text only, no microphone).
    Frames stay on a grid of ``1 / fps`` seconds (one late by a block does not delay the
    next), so a history sampled on them keeps its time scale.
    """

    def __init__(
        self,
        node: MessagePump,
        fps: float,
        callback: Callable[[], None],
        *,
        grace: float = 0.04,
    ) -> None:
        self._node = node
        self._period = 1 / fps
        self._grace = grace
        self._callback = callback
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.frames = 0
        """Frames run (for tests and benchmarks)."""
        self.timer_frames = 0
        """Of those, the ones the clock's own timer woke the loop for."""

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Run the first frame a period from now, on ``loop`` (the running one)."""
        self._loop = loop or asyncio.get_running_loop()
        self._due = self._loop.time() + self._period
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    def chance(self) -> None:
        """The loop is awake for something else: run the frame now if one is due."""
        loop = self._loop
        if loop is not None and loop.time() >= self._due:
            self._frame(loop.time())

    def _arm(self) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self._due + self._grace, self._woken)

    def _woken(self) -> None:
        self._timer = None
        if self._loop is not None:
            self.timer_frames += 1
            self._frame(self._loop.time())

    def _frame(self, now: float) -> None:
        self._due += self._period
        if self._due <= now:  # frames were missed (a busy loop): skip them
            self._due = now + self._period
        self._arm()
        self.frames += 1
        try:
            self._callback()
        except Exception as error:  # as a Textual timer's: the app shows it and ends
            self._node.app._handle_exception(error)
