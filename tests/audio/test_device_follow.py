"""Following a new default and switching to another rate mid-reply, on real PortAudio
devices (PulseAudio null sinks): the rest of the reply is heard, nothing queued is lost.

The host's answer to "what is the default now" is scripted where the host would be
CoreAudio or WASAPI (not here); the reopening that follows is real."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests import helpers
from tests.audio.test_device_recovery import Taps, streams_of
from tests.audio.test_real_device import tone
from voicelive_tui.audio import devices
from voicelive_tui.audio.device_watch import DeviceSnapshot

pytestmark = pytest.mark.realaudio


async def _three_second_reply(backend, taps: Taps) -> None:
    await taps.attached()
    for chunk in np.array_split(tone(1000, 3.0), 20):  # 150 ms deltas
        backend.play("item_a", chunk.tobytes())
    await helpers.wait_until(lambda: sum(taps.heard_ms().values()) >= 1000, 20)


# Slow step: seconds of a real reply through PulseAudio in real time.
@pytest.mark.slow
async def test_a_new_default_is_followed_mid_reply_without_losing_it(
    pulse, second_sink, backend_factory, tmp_path
):
    """Where the host leaves our stream on the old device, the watch reopens on the new
    default (PortAudio re-initialised between the streams); the rest of the reply plays."""
    taps = Taps(pulse, tmp_path, "speaker", second_sink)
    answers = [DeviceSnapshot(("speaker", second_sink), ("mic.monitor",), "speaker", "mic.monitor")]
    try:
        backend, listener = await backend_factory()
        follower = backend.follower
        follower.probe, backend.watch.follow_default = (lambda: answers[-1]), True
        await follower.check()
        await _three_second_reply(backend, taps)
        pulse.run("pactl", "set-default-sink", second_sink)
        answers.append(
            DeviceSnapshot(("speaker", second_sink), ("mic.monitor",), second_sink, "mic.monitor")
        )
        await follower.check()
        assert listener.changes == [(f"Speaker: the new default, {second_sink}", True)]
        await helpers.wait_until(lambda: backend.played_ms("item_a") >= 2990, 20)
        await helpers.wait_until(lambda: taps.heard_ms()[second_sink] >= 1000, 10)
        heard = taps.heard_ms()
    finally:
        taps.stop()
        pulse.run("pactl", "set-default-sink", "speaker")
    assert 2900 <= sum(heard.values()) <= 3300  # <= 100 ms lost, little heard twice
    assert listener.started == ["item_a"] and not listener.faults


# Slow step: seconds of a real reply through PulseAudio in real time.
@pytest.mark.slow
async def test_switching_to_an_output_at_another_rate_keeps_what_was_queued(
    pulse, second_sink, backend_factory, tmp_path, monkeypatch
):
    """Issue 25: the new output cannot run at 24 kHz (scripted: PulseAudio takes any rate,
    a USB headset may take only 48 kHz); the queue is resampled into its ring and the rest
    of the reply is heard on it, its played count going on."""
    original = devices.pick_rate

    def only_48k(sd, index, kind, forced=None):
        return (
            48_000
            if kind == "output" and os.environ.get("PULSE_SINK") == second_sink
            else original(sd, index, kind, forced)
        )

    monkeypatch.setattr(devices, "supports_rate", lambda sd, index, kind, rate: kind != "output")
    monkeypatch.setattr(devices, "pick_rate", only_48k)
    taps = Taps(pulse, tmp_path, "speaker", second_sink)
    try:
        backend, listener = await backend_factory()
        await _three_second_reply(backend, taps)
        await backend.use_device("output", "pulse", pulse_name=second_sink)
        assert backend.ring.rate == 48_000 and "@48k resampled" in backend.describe()
        await helpers.wait_until(lambda: backend.played_ms("item_a") >= 2990, 20)
        await helpers.wait_until(lambda: taps.heard_ms()[second_sink] >= 1000, 10)
        heard = taps.heard_ms()
    finally:
        taps.stop()
    assert 2900 <= sum(heard.values()) <= 3300
    assert listener.started == ["item_a"] and not listener.faults
    assert streams_of(pulse, os.getpid()).get("sink") == second_sink
