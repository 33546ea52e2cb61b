"""The device screen (``d``) on real PortAudio devices (PulseAudio null sinks): the server's
sinks and sources are listed, an input's level moves when something plays into it, and
choosing an output moves the app's stream there while the session goes on."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from tests.audio.test_device_recovery import streams_of
from tests.ui.conftest import SIZE, wait_for
from voicelive_tui.audio.engine import SoundDeviceBackend
from voicelive_tui.config import Settings
from voicelive_tui.sources import endpoint_source
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.widgets.devices_view import DeviceScreen

pytestmark = pytest.mark.realaudio


# Slow step: a real reply through PulseAudio in real time; the pilot test in
# tests/ui covers the screen fast.
@pytest.mark.slow
async def test_choosing_an_output_in_the_device_screen_moves_the_stream(
    pulse, second_sink, emulator, tmp_path
):
    settings = Settings(endpoint=emulator.endpoint, api_key="test-key", log_dir=tmp_path / "logs")
    backend = SoundDeviceBackend("pulse", "pulse")
    app = VoiceLiveApp(settings, source=endpoint_source(audio=backend))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session is not None and backend.has_output, 20)
        await wait_for(pilot, lambda: streams_of(pulse, os.getpid()).get("sink") == "speaker")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen) and app.screen.entries)
        screen = app.screen
        assert isinstance(screen, DeviceScreen)
        names = {(e.kind, e.pulse_name) for e in screen.entries}
        assert {("output", "speaker"), ("output", second_sink), ("input", "mic.monitor")} <= names
        [in_use] = [e for e in screen.entries if e.pulse_name == "speaker"]
        assert in_use.current and in_use.default
        # Something playing into speakerB is heard on its monitor: that input's meter moves.
        [monitor_b] = [e for e in screen.entries if e.pulse_name == f"{second_sink}.monitor"]
        player = pulse.popen("paplay", "--device", second_sink, "/dev/urandom", "--raw")
        try:
            await wait_for(pilot, lambda: screen.level(monitor_b) > -40, 20, "the meter moves")
        finally:
            player.terminate()
            player.wait(timeout=10)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(f"output:{in_use.index}:{second_sink}"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: streams_of(pulse, os.getpid()).get("sink") == second_sink)
        await wait_for(
            pilot, lambda: any(e.current and e.pulse_name == second_sink for e in screen.entries)
        )
        assert backend.has_output and not backend.faulted
        assert app.session is not None and app.session.audio is backend
        await pilot.press("escape")
        await pilot.press("q")
