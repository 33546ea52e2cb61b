"""Fixtures for the dashboard's Pilot tests: the app wired to an in-process emulator.

Audio goes through the WAV backend (the ``--input-wav`` path). Waiting is always on a
condition with a time-out, never a bare sleep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.helpers import wait_until
from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.config import Settings
from voicelive_tui.emulator import Emulator
from voicelive_tui.sources import endpoint_source
from voicelive_tui.ui.app import VoiceLiveApp

SIZE = (140, 40)


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true; fail the test after ``timeout``."""
    await wait_until(condition, timeout, what, pause=pilot.pause)


@dataclass
class Dashboard:
    """What a test needs: the app, its audio backend and the settings it ran with."""

    app: VoiceLiveApp
    audio: WavBackend
    settings: Settings


async def wait_for_spoken_answer(pilot: Pilot[Any], dash: Dashboard) -> None:
    """Until the agent has answered a spoken turn and its reply has played."""
    app = dash.app
    await wait_for(
        pilot,
        lambda: (
            app.session is not None
            and app.session.conversation.answered_user_turns >= 1
            and dash.audio.pending_ms() == 0
        ),
        timeout=30,
        what="the agent's answer to the spoken turn",
    )


@pytest.fixture
def dashboard(tmp_path: Path) -> Callable[..., Dashboard]:
    """``dashboard(emulator, input_wav=None, speed=1.0, **settings)``: an unstarted app."""

    def make(
        emu: Emulator, input_wav: Path | None = None, speed: float = 1.0, **changes: Any
    ) -> Dashboard:
        settings = Settings(
            endpoint=emu.endpoint, api_key="test-key", log_dir=tmp_path / "logs", **changes
        )
        audio = WavBackend(input_wav, tmp_path / "agent.wav", speed=speed)
        app = VoiceLiveApp(settings, source=endpoint_source(audio=audio))
        return Dashboard(app, audio, settings)

    return make


Waiter = Callable[..., Awaitable[None]]
