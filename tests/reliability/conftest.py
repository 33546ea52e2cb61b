"""Fixtures of the reliability tests: an emulator that streams in real time (speed 1,
``realtime`` pacing), so a reply is still in progress when a test pulls the plug."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest_asyncio

from voicelive_tui.emulator import Emulator


@pytest_asyncio.fixture
async def slow_emulator(emulator_factory: Callable[..., Awaitable[Emulator]]) -> Emulator:
    """An emulator at real-time speed and pacing: the greeting takes seconds to stream."""
    return await emulator_factory(speed=1.0, pacing="realtime")
