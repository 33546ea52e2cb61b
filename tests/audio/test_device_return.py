"""A chosen sink that goes and returns, on real PortAudio devices (PulseAudio null sinks):
``--sticky-device`` switches back by itself, else the return is offered (issue 25)."""

from __future__ import annotations

import os

import pytest

from tests import helpers
from tests.audio.test_device_recovery import streams_of
from voicelive_tui.audio.device_watch import DeviceSnapshot
from voicelive_tui.audio.engine import RETURNED

pytestmark = pytest.mark.realaudio


def load_sink(pulse, name: str) -> str:
    return pulse.run("pactl", "load-module", "module-null-sink", f"sink_name={name}").stdout.strip()


async def _choose_then_unplug(pulse, backend_factory, *, sticky: bool):
    backend, listener = await backend_factory(sticky=sticky)
    assert backend.follower is not None and not backend.follower.running  # idle: no watch
    module = load_sink(pulse, "speakerB")
    await backend.use_device("output", "pulse", pulse_name="speakerB")
    assert backend.follower.running  # a chosen sink is watched
    assert streams_of(pulse, os.getpid()).get("sink") == "speakerB"
    await backend.follower.check()
    pulse.run("pactl", "unload-module", module)  # unplugged: the server moves us itself
    await backend.follower.check()
    assert streams_of(pulse, os.getpid()).get("sink") == "speaker"
    assert listener.changes[-1] == (
        "Speaker 'speakerB' is gone; using the default (speaker) until it returns",
        False,
    )
    return backend, listener, load_sink(pulse, "speakerB")


async def test_sticky_device_switches_back_to_a_returning_sink(pulse, backend_factory):
    backend, listener, module = await _choose_then_unplug(pulse, backend_factory, sticky=True)
    try:
        await backend.follower.check()
        await helpers.wait_until(
            lambda: streams_of(pulse, os.getpid()).get("sink") == "speakerB", 5
        )
        assert listener.changes[-1] == ("Speaker 'speakerB' is back: switched back to it", True)
        assert not listener.faults and "speakerB" in backend.describe()
    finally:
        pulse.run("pactl", "unload-module", module)


async def test_without_sticky_a_returning_sink_is_offered_on_the_device_screen(
    pulse, backend_factory
):
    backend, listener, module = await _choose_then_unplug(pulse, backend_factory, sticky=False)
    try:
        await backend.follower.check()
        assert listener.changes[-1] == (
            "Speaker 'speakerB' is back: choose it on the device screen (d) to switch back",
            False,
        )
        assert streams_of(pulse, os.getpid()).get("sink") == "speaker"  # offered, not taken
        entry = next(e for e in backend.device_entries() if e.pulse_name == "speakerB")
        assert not entry.current  # so the device screen lets the user pick it
        await backend.choose_device(entry)
        assert streams_of(pulse, os.getpid()).get("sink") == "speakerB"
        assert not backend.watch.offered and not backend.watch.missing
    finally:
        pulse.run("pactl", "unload-module", module)


async def test_where_portaudio_must_rescan_a_returned_device_is_listed_and_reopened(
    pulse, backend_factory
):
    """On CoreAudio or WASAPI (scripted here: the host's answers; PortAudio's rescans and
    reopenings are real) a named device that returns is not in PortAudio's list until it
    is re-initialised: the device screen lists it apart, and choosing it reopens."""
    backend, listener = await backend_factory()
    backend._plugin = False  # as on a host whose streams stay where they were opened
    follower = backend.follower
    answers = [DeviceSnapshot(("pulse", "default"), ("pulse", "default"), "default", "default")]
    follower.probe = lambda: answers[-1]
    backend.watch.name("output", "pulse")
    await follower.check()
    answers.append(DeviceSnapshot(("default",), ("pulse", "default"), "default", "default"))
    await follower.check()  # gone: PortAudio re-initialised between the streams
    assert listener.changes[-1][0].startswith("Speaker 'pulse' is gone; using the default")
    answers.append(answers[0])
    await follower.check()
    assert listener.changes[-1] == (
        "Speaker 'pulse' is back: choose it on the device screen (d) to switch back",
        False,
    )
    (returned,) = [e for e in backend.device_entries() if e.index < 0]
    assert (returned.kind, returned.name, returned.where) == ("output", "pulse", RETURNED)
    await backend.choose_device(returned)
    assert listener.changes[-1] == ("Speaker 'pulse' is back: switched back to it", True)
    assert not [e for e in backend.device_entries() if e.index < 0]
    assert not listener.faults and backend.has_output and backend.has_input
    assert streams_of(pulse, os.getpid()).get("sink") == "speaker"
