"""Device-rate conversion with soxr, WAV loading, and the no-PortAudio fallback."""

from __future__ import annotations

import importlib.abc
import sys

import numpy as np
import pytest

from tests.helpers import tone, write_wav
from voicelive_tui.audio import devices, factory
from voicelive_tui.audio.backends import NullBackend, WavBackend
from voicelive_tui.audio.base import AudioError
from voicelive_tui.audio.resample import StreamResampler, load_wav_mono, resample


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(float) * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


@pytest.mark.parametrize("device_rate", [48_000, 44_100, 16_000])
def test_streaming_resampler_round_trip_keeps_pitch_and_length(device_rate):
    to_device = StreamResampler(24_000, device_rate)
    from_device = StreamResampler(device_rate, 24_000)
    assert to_device.active and from_device.active
    source = tone(1000, 1.0, 24_000)
    at_device = np.concatenate(
        [to_device.process(c) for c in np.array_split(source, 50)]
        + [to_device.process(np.zeros(0, np.int16), last=True)]
    )
    assert abs(at_device.size - device_rate) <= 2
    assert dominant_hz(at_device, device_rate) == pytest.approx(1000, abs=3)
    back = np.concatenate(
        [from_device.process(c) for c in np.array_split(at_device, 37)]
        + [from_device.process(np.zeros(0, np.int16), last=True)]
    )
    assert back.dtype == np.int16
    assert abs(back.size - 24_000) <= 2
    assert dominant_hz(back, 24_000) == pytest.approx(1000, abs=3)


def test_equal_rates_pass_through_untouched():
    r = StreamResampler(24_000, 24_000)
    x = tone(440, 0.1, 24_000)
    assert not r.active and r.process(x) is x


def test_reset_forgets_old_audio():
    r = StreamResampler(24_000, 48_000)
    r.process(np.full(4800, 20000, np.int16))
    r.reset()
    out = np.concatenate([r.process(np.zeros(4800, np.int16)) for _ in range(3)])
    assert np.abs(out).max() <= 2  # soxr dithers int16 output by one LSB


def test_load_wav_mono_mixes_channels_and_resamples(tmp_path):
    path = tmp_path / "stereo44.wav"
    left = tone(500, 0.5, 44_100)
    write_wav(path, np.stack([left, left], axis=1), 44_100, channels=2)
    mono = load_wav_mono(path)
    assert abs(mono.size - 12_000) <= 2
    assert dominant_hz(mono, 24_000) == pytest.approx(500, abs=3)
    assert resample(left, 44_100, 44_100) is left


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes ``import sounddevice`` fail the way it does without libportaudio2."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_gives_one_line_with_the_recipe(monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioError, match="PortAudio library not found"):
        devices.load_sounddevice()
    backend = factory.make_backend("auto")
    assert isinstance(backend, NullBackend)
    assert "\n" not in backend.notice
    assert "PULSE_SERVER=unix:/tmp/pulse-$USER.sock" in backend.notice
    assert "-R /tmp/pulse-$USER.sock:" in backend.notice
    with pytest.raises(AudioError):
        factory.make_backend("sounddevice")
    inventory = devices.list_devices({})
    assert inventory.error and "PortAudio" in devices.format_devices(inventory)


def test_factory_picks_wav_and_none():
    assert isinstance(factory.make_backend("none"), NullBackend)
    assert isinstance(factory.make_backend("auto", output_wav="x.wav"), WavBackend)
    with pytest.raises(AudioError, match="unknown audio backend"):
        factory.make_backend("jack")
