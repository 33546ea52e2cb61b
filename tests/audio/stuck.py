"""A sound server that dies under running streams can leave PortAudio stuck for good in
this process: libpulse's deadlock, or PortAudio#1037's endless loop in its ALSA callback
thread (fixed upstream in 2025, not in Debian's 19.6). The app survives it by design: it
tells the user once ("restart the app to get audio back") and goes on text-only
(``voicelive_tui.audio.portaudio``). A test that kills the server and then waits for the
audio to come back cannot see it come back in such a run; :func:`unless_stuck` checks
that the user was told instead, and skips the rest of the test with the reason (the
fixture ``use_server`` then skips the worker's later audio tests the same way)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from voicelive_tui.audio import portaudio

TOLD_S = 10.0
"""How long the notice may take after PortAudio counts as stuck (the recovery's next try)."""


def stuck() -> bool:
    """PortAudio is stuck for good in this process."""
    return bool(portaudio.THREAD.stuck)


async def unless_stuck(
    told: Callable[[], bool], pause: Callable[[float], Awaitable[object]]
) -> None:
    """When PortAudio got stuck: ``told()`` must hold within ``TOLD_S`` (the user was told,
    the contract for this case), then the test is skipped with the reason. Otherwise
    nothing: the caller's own checks of the recovery follow."""
    if not stuck():
        return
    deadline = time.monotonic() + TOLD_S
    while not told():
        assert time.monotonic() < deadline, "PortAudio is stuck, and the user was not told"
        await pause(0.05)
    pytest.skip(
        f"the server's death left PortAudio stuck for good ({portaudio.THREAD.stuck}): "
        "an upstream hang (libpulse's deadlock or PortAudio#1037); the user was told"
    )
