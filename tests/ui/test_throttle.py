"""Throttle: a burst of requests runs the callback once per interval, never drops the last.
FrameClock: its frames ride the loop's other wake-ups, and its timer fires only without them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App

from voicelive_tui.ui.throttle import FrameClock, Throttle


async def test_a_burst_runs_once_now_and_once_at_the_interval_end():
    runs: list[int] = []
    app = App[None]()
    async with app.run_test() as pilot:
        throttle = Throttle(app, 0.2, lambda: runs.append(len(runs)))
        for _ in range(50):
            throttle.request()
        assert len(runs) == 1  # the first request ran at once
        await pilot.pause(0.4)
        assert len(runs) == 2  # the other 49 ran once, at the end of the interval
        await pilot.pause(0.3)
        assert len(runs) == 2  # nothing requested, nothing runs


async def test_riding_a_frame_clock_runs_on_ticks_only():
    runs: list[int] = []
    app = App[None]()
    async with app.run_test() as pilot:
        throttle = Throttle(app, 0.05, lambda: runs.append(1))
        throttle.ride()
        throttle.request()
        await pilot.pause(0.1)
        assert runs == []  # no timer of its own
        throttle.tick()
        assert runs == [1]
        throttle.tick()
        assert runs == [1]  # no new request
        throttle.request()
        throttle.tick()
        assert runs == [1]  # within the interval
        await pilot.pause(0.1)
        throttle.tick()
        assert runs == [1, 1]
        throttle.flush()
        assert runs == [1, 1, 1]


class ScriptedLoop:
    """The two things a FrameClock asks of its loop, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], asyncio.TimerHandle]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, (), asyncio.new_event_loop())
        handle._loop.close()  # only its cancelled flag is used
        self.timers.append((when, callback, handle))
        return handle

    def advance(self, to: float) -> None:
        """Move the clock to ``to``, firing the timers due on the way, as a loop would."""
        while True:
            due = sorted((w, c, h) for w, c, h in self.timers if not h.cancelled() and w <= to)
            if not due:
                break
            when, callback, handle = due[0]
            self.timers.remove((when, callback, handle))
            self.now = when
            callback()
        self.now = to


def clock_on(loop: ScriptedLoop, frames: list[float]) -> FrameClock:
    app = App[None]()
    clock = FrameClock(app, 20, lambda: frames.append(loop.now))
    clock.start(loop)  # type: ignore[arg-type]
    return clock


def test_frames_ride_wakeups_that_come_anyway_and_keep_their_rate():
    loop, frames = ScriptedLoop(), []
    clock = clock_on(loop, frames)
    for step in range(1, 102):  # a microphone block every 20 ms for 2 s
        loop.advance(step * 0.02)
        clock.chance()
    assert clock.timer_frames == 0  # the clock's own timer never woke the loop
    assert len(frames) == 40  # 20 a second, on the blocks' wake-ups
    # Each on the first block after its time on the grid, so the rate stays.
    assert all(-1e-9 < at - (i + 1) * 0.05 < 0.0201 for i, at in enumerate(frames))
    for step in range(1, 35):  # a block every 30 ms: still 20 frames a second
        loop.advance(2.02 + step * 0.03)
        clock.chance()
    assert clock.timer_frames == 0
    assert len(frames) == 60


def test_without_wakeups_the_clock_wakes_the_loop_itself():
    loop, frames = ScriptedLoop(), []
    clock = clock_on(loop, frames)
    loop.advance(1.0)  # muted, or no microphone: nothing else wakes the loop
    assert clock.timer_frames == len(frames) == 19  # the first a period and a grace in
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    assert all(abs(gap - 0.05) < 1e-9 for gap in gaps)
    loop.advance(1.01)
    clock.chance()  # blocks again: the timer is put off past the next frame each time
    for step in range(1, 50):
        loop.advance(1.01 + step * 0.02)
        clock.chance()
    assert clock.timer_frames == 19
    clock.stop()
    loop.advance(5.0)
    assert clock.timer_frames == 19 and not clock.running
