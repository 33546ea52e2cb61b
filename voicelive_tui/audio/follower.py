"""The device watch's loop: ask the host every ``WATCH_EVERY_S``, act on what changed.

Runs only while :attr:`DeviceWatch.needed` and the host can be asked (see
:mod:`.host_devices`): on Linux with PulseAudio only while a sink or source chosen on the
device screen is to be watched, so an idle session there asks nothing. The question runs
in a worker thread (``pactl`` or a few system calls); the decisions are acted on, one at
a time, on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .device_watch import Decision, DeviceWatch
from .host_devices import Probe

log = logging.getLogger(__name__)

WATCH_EVERY_S = 2.0
"""How often the host is asked: a new default or a returning device is used within this."""


class DeviceFollower:
    """Owns the watch's task; :meth:`update` starts or stops it as the watch needs."""

    def __init__(
        self,
        watch: DeviceWatch,
        probe: Probe | None,
        act: Callable[[Decision], Awaitable[None]],
        *,
        every: float = WATCH_EVERY_S,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.watch = watch
        self.probe = probe
        self.act = act
        self.every = every
        self.paused = paused
        """True while the host is not to be asked (the devices are being recovered)."""
        self.checks = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def update(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the task if the watch is needed and the host can be asked; else stop it."""
        wanted = self.probe is not None and self.watch.needed
        if wanted and self._task is None:
            self._task = loop.create_task(self._run(), name="audio-device-watch")
        elif not wanted and self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check(self) -> None:
        """Ask the host once and act on what changed."""
        probe = self.probe
        if probe is None or self.paused():
            return
        snapshot = await asyncio.get_running_loop().run_in_executor(None, probe)
        self.checks += 1
        if snapshot is None or self.paused():
            return
        for decision in self.watch.observe(snapshot):
            await self.act(decision)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.check()
            except Exception:  # a host that answered oddly must not end the watch
                log.exception("Device watch: the check failed")
