"""Throttle: a burst of requests runs the callback once per interval, never drops the last."""

from __future__ import annotations

from textual.app import App

from voicelive_tui.ui.throttle import Throttle


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
