"""The device screen with scripted devices: its rows, marks and meters as a snapshot, and
what choosing an entry asks of the backend (the real switch: tests/audio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.scaffold.replay import scripted_app, settle
from tests.ui.conftest import wait_for
from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.audio.base import MIC_RMS
from voicelive_tui.audio.choices import DeviceEntry
from voicelive_tui.ui.widgets.devices_view import DeviceScreen

ENTRIES = [
    DeviceEntry("output", "pulse", "ALSA", 44100, 32, 0),
    DeviceEntry(
        "output",
        "Built-in Audio Analog Stereo",
        "PulseAudio",
        48000,
        2,
        0,
        "alsa_out",
        current=True,
        default=True,
    ),
    DeviceEntry("output", "USB Headset", "PulseAudio", 48000, 2, 0, "usb_out"),
    DeviceEntry("input", "pulse", "ALSA", 44100, 32, 0),
    DeviceEntry(
        "input",
        "Built-in Microphone",
        "PulseAudio",
        48000,
        2,
        0,
        "alsa_in",
        current=True,
        default=True,
    ),
    DeviceEntry("input", "USB Headset Microphone", "PulseAudio", 16000, 1, 0, "usb_in"),
]


class ScriptedLevels:
    def __init__(self, levels: dict[str, float]) -> None:
        self.levels = levels

    def level(self, entry: DeviceEntry) -> float:
        return self.levels.get(entry.key, -120.0)

    def close(self) -> None:
        pass


class ScriptedDevices(NullBackend):
    """A backend with a fixed device list that records what was chosen."""

    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[DeviceEntry] = []
        self.levels[MIC_RMS] = -30.0

    def describe(self) -> str:
        return "pulseaudio 16.1: mic pulse (alsa_in), speaker pulse (alsa_out)"

    def device_entries(self) -> list[DeviceEntry]:
        return ENTRIES

    def open_meters(self, entries: list[DeviceEntry]) -> ScriptedLevels:
        return ScriptedLevels({ENTRIES[5].key: -12.0, ENTRIES[3].key: -60.0})

    async def choose_device(self, entry: DeviceEntry) -> None:
        self.chosen.append(entry)


async def open_screen(pilot: Pilot[Any], devices: ScriptedDevices) -> DeviceScreen:
    screen = DeviceScreen(devices)
    await pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: screen.query_one(DataTable).row_count == len(ENTRIES) + 2)
    await wait_for(pilot, lambda: len(screen._shown) == 3)  # the meters drawn
    await pilot.pause()
    return screen


def test_device_screen_snapshot(snap_compare, tmp_path: Path):
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await open_screen(pilot, ScriptedDevices())

    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=run_before)


async def test_choosing_an_entry_asks_the_backend_to_switch(tmp_path: Path):
    app = scripted_app(tmp_path)
    devices = ScriptedDevices()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = await open_screen(pilot, devices)
        table = screen.query_one(DataTable)
        assert table.cursor_row == 2  # the output in use
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: devices.chosen == [ENTRIES[2]])
        await pilot.press("enter")  # the one in use already: nothing to do
        await pilot.press("escape")
        await pilot.pause()
        assert devices.chosen == [ENTRIES[2]]
        assert not isinstance(app.screen, DeviceScreen)


async def test_d_opens_the_device_screen_also_from_the_palette(tmp_path: Path):
    app = scripted_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeviceScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"Devices")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
