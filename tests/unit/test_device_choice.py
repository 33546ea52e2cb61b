"""Device choice without PortAudio: the device screen's rows and marks, the recovery's
back-off, and a named device that is gone replaced by the default (a fake device list)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from voicelive_tui.audio import devices
from voicelive_tui.audio.base import AudioError
from voicelive_tui.audio.engine import (
    RETRY_EVERY_S,
    RETRY_SLOWLY_EVERY_S,
    SoundDeviceBackend,
    retry_delay,
)
from voicelive_tui.audio.inventory import list_entries
from voicelive_tui.audio.pulse import ServerDevice, ServerDevices

PULSE = devices.DeviceInfo(0, "pulse", "ALSA", 2, 2, 44100.0)
USB = devices.DeviceInfo(1, "USB Headset", "ALSA", 1, 2, 48000.0, True, True)
SERVER = ServerDevices(
    sinks=[ServerDevice("speaker", "Speaker", 44100, 2), ServerDevice("usb", "USB", 48000, 2)],
    sources=[ServerDevice("mic.monitor", "Monitor of Mic", 44100, 2)],
    default_sink="speaker",
    default_source="mic.monitor",
)


def test_through_the_pulse_device_the_servers_default_sink_is_the_one_in_use():
    rows = list_entries([PULSE, USB], SERVER, in_use={"output": 0, "input": 1}, pulse_choice={})
    outputs = [r for r in rows if r.kind == "output"]
    assert [(r.name, r.where) for r in outputs] == [
        ("pulse", "ALSA"),
        ("USB Headset", "ALSA"),
        ("Speaker", "PulseAudio"),
        ("USB", "PulseAudio"),
    ]
    assert [r.name for r in outputs if r.current] == ["pulse", "Speaker"]
    assert [r.name for r in outputs if r.default] == ["USB Headset", "Speaker"]
    inputs = [r for r in rows if r.kind == "input"]
    assert [r.name for r in inputs if r.current] == ["USB Headset"]  # not through pulse
    assert all(r.index == 0 for r in rows if r.pulse_name)  # reached through "pulse"


def test_a_chosen_sink_is_the_one_marked_in_use():
    rows = list_entries(
        [PULSE, USB], SERVER, in_use={"output": 0, "input": 0}, pulse_choice={"output": "usb"}
    )
    assert [r.pulse_name or r.name for r in rows if r.kind == "output" and r.current] == ["usb"]


def test_without_a_pulse_device_only_portaudio_devices_are_listed():
    rows = list_entries([USB], SERVER, in_use={"output": 1}, pulse_choice={})
    assert {r.where for r in rows} == {"ALSA"}


def test_retries_come_fast_then_every_second_then_slowly():
    delays = [retry_delay(n, down_s=n) for n in range(5)]
    assert delays[:2] == [0.25, 0.5] and delays[2:] == [RETRY_EVERY_S] * 3
    assert retry_delay(10, down_s=600) == RETRY_SLOWLY_EVERY_S


def fake_sounddevice(names: list[str], default: int) -> SimpleNamespace:
    listed = [
        {
            "index": i,
            "name": name,
            "hostapi": 0,
            "max_input_channels": 1,
            "max_output_channels": 2,
            "default_samplerate": 48000.0,
        }
        for i, name in enumerate(names)
    ]
    return SimpleNamespace(
        query_devices=lambda: listed,
        query_hostapis=lambda: [{"name": "Core Audio"}],
        default=SimpleNamespace(device=(default, default)),
    )


def test_a_named_device_that_is_gone_falls_back_to_the_default_with_a_notice():
    backend = SoundDeviceBackend(None, "USB Headset")
    backend._sd = fake_sounddevice(["MacBook Speakers", "AirPods"], default=1)
    gone: list[str] = []
    assert backend._resolve("USB Headset", "output", gone) == 1
    assert gone == ["output device 'USB Headset' is gone; using the default (AirPods)"]
    with pytest.raises(AudioError):  # at start, a wrong name is the user's to fix
        backend._resolve("USB Headset", "output", None)
