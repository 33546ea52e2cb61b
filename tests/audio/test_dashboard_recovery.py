"""The dashboard when the sound server goes away and comes back (real PortAudio devices on
a private PulseAudio server that the test stops and starts)."""

from __future__ import annotations

import os

import pytest

from tests.audio.stuck import stuck, unless_stuck
from tests.audio.test_device_recovery import STUCK_NOTICE, streams_of
from tests.ui.conftest import SIZE, wait_for
from voicelive_tui.audio.engine import SoundDeviceBackend
from voicelive_tui.config import Settings
from voicelive_tui.sources import endpoint_source
from voicelive_tui.ui.app import VoiceLiveApp

pytestmark = pytest.mark.realaudio


def status_text(app: VoiceLiveApp) -> str:
    bar = app.status_bar
    return " ".join(t.plain for t in bar.fields(bar.view))


async def test_the_dashboard_says_reconnecting_and_gets_its_audio_back(
    pulse_lab, emulator, tmp_path
):
    """The sound server goes away and returns: the status bar says so, then audio is back
    without a key press, and the session stayed connected throughout."""
    first = pulse_lab.start()
    with pulse_lab.use(first):
        settings = Settings(
            endpoint=emulator.endpoint, api_key="test-key", log_dir=tmp_path / "logs"
        )
        backend = SoundDeviceBackend("pulse", "pulse")
        app = VoiceLiveApp(settings, source=endpoint_source(audio=backend))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await wait_for(pilot, lambda: app.session is not None and backend.has_output, 20)
            await wait_for(pilot, lambda: "ready" in status_text(app))
            first.stop()
            await wait_for(pilot, lambda: "audio reconnecting: " in status_text(app), 20)
            assert "r to retry now" in status_text(app)
            second = pulse_lab.start()
            await wait_for(pilot, lambda: (backend.has_output and backend.has_input) or stuck(), 10)
            await unless_stuck(
                lambda: (
                    any(STUCK_NOTICE in str(n.message) for n in app._notifications)
                    or STUCK_NOTICE in status_text(app)
                ),
                pilot.pause,
            )
            await wait_for(pilot, lambda: "reconnecting" not in status_text(app))
            notices = [str(n.message) for n in app._notifications]
            assert any(n.startswith("Audio device lost") for n in notices)
            assert any(n.startswith("Audio back: ") for n in notices)
            assert "ready" in status_text(app)
            assert streams_of(second, os.getpid()).get("sink") == "speaker"
            await pilot.press("q")
    (technical,) = (tmp_path / "logs").glob("*_voicelive.log")
    assert technical.read_text().count("Audio back: ") == 1  # one line per return
