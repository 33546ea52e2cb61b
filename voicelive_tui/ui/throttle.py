"""Run a repaint at most once per interval, however often it is asked for.

The session can report hundreds of events a second; the screen needs a few frames a
second. A request inside the interval is not dropped: it runs once at the interval's end,
with everything that arrived meanwhile. Nothing runs while nothing is requested.

Every screen update costs a compositor pass, whatever its size, so when the dashboard
already has a frame clock (the meters' sampler) throttles ride on its ticks instead of
timers of their own: one pass draws the meters, the events and the state together.
"""

from __future__ import annotations

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
