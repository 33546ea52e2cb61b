"""The device watch's decisions (issue 25, items 1 and 2), fed scripted device lists as a
CoreAudio or WASAPI host (or a PulseAudio server) would answer them: none of those hosts
runs here, so these are the tests of following the default there."""

from __future__ import annotations

import asyncio
import sys

import pytest

from voicelive_tui.audio.device_watch import Decision, DeviceSnapshot, DeviceWatch
from voicelive_tui.audio.follower import DeviceFollower
from voicelive_tui.audio.host_devices import probe_for, winmm_snapshot

SPEAKERS = "MacBook Pro Speakers"
HEADSET = "AirPods Pro"
MIC = "MacBook Pro Microphone"


def host(
    outputs: tuple[str, ...] = (SPEAKERS,),
    default_output: str = SPEAKERS,
    inputs: tuple[str, ...] = (MIC,),
    default_input: str = MIC,
) -> DeviceSnapshot:
    return DeviceSnapshot(outputs, inputs, default_output, default_input)


def run(watch: DeviceWatch, *snapshots: DeviceSnapshot) -> list[list[Decision]]:
    return [watch.observe(s) for s in snapshots]


def test_a_new_default_output_is_followed_once():
    watch = DeviceWatch(follow_default=True, sticky=False)
    plugged = host((SPEAKERS, HEADSET), HEADSET)
    steps = run(watch, host(), host(), plugged, plugged)
    assert steps == [[], [], [Decision("follow", "output", HEADSET, HEADSET)], []]


def test_unplugging_the_default_follows_the_one_after_it():
    watch = DeviceWatch(follow_default=True, sticky=False)
    steps = run(watch, host((SPEAKERS, HEADSET), HEADSET), host())
    assert steps[1] == [Decision("follow", "output", SPEAKERS, SPEAKERS)]


def test_a_new_device_that_is_not_the_default_changes_nothing():
    watch = DeviceWatch(follow_default=True, sticky=False)
    assert run(watch, host(), host((SPEAKERS, HEADSET))) == [[], []]


def test_both_directions_follow_their_own_default():
    watch = DeviceWatch(follow_default=True, sticky=False)
    both = host((SPEAKERS, HEADSET), HEADSET, (MIC, HEADSET), HEADSET)
    assert run(watch, host(), both)[1] == [
        Decision("follow", "output", HEADSET, HEADSET),
        Decision("follow", "input", HEADSET, HEADSET),
    ]


def test_where_the_host_follows_by_itself_nothing_is_followed():
    """ALSA's pulse plugin moves our streams itself: the watch leaves the default alone."""
    watch = DeviceWatch(follow_default=False, sticky=False)
    assert not watch.needed
    assert run(watch, host(), host((SPEAKERS, HEADSET), HEADSET)) == [[], []]


def test_a_named_device_is_not_left_for_a_new_default():
    watch = DeviceWatch(follow_default=True, sticky=False)
    watch.name("output", SPEAKERS)
    assert run(watch, host(), host((SPEAKERS, HEADSET), HEADSET)) == [[], []]


def test_a_named_device_that_goes_and_returns_is_offered_without_sticky():
    watch = DeviceWatch(follow_default=False, sticky=False)
    watch.name("output", "airpods")  # a part of the name, like --output-device
    assert watch.needed
    with_it, without = host((SPEAKERS, HEADSET), HEADSET), host()
    steps = run(watch, with_it, without, without, with_it, with_it)
    assert steps == [
        [],
        [Decision("gone", "output", "airpods", SPEAKERS)],
        [],
        [Decision("offer", "output", "airpods", HEADSET)],
        [],
    ]
    assert watch.offered == {"output": "airpods"}
    run(watch, without)  # gone again before it was taken: no longer offered
    assert watch.offered == {} and watch.missing == {"output"}


def test_sticky_switches_back_to_a_named_device_that_returns():
    watch = DeviceWatch(follow_default=True, sticky=True)
    watch.name("input", HEADSET)
    with_it = host((SPEAKERS, HEADSET), SPEAKERS, (MIC, HEADSET), HEADSET)
    steps = run(watch, with_it, host(), with_it)
    assert steps == [
        [],
        [Decision("gone", "input", HEADSET, MIC)],
        [Decision("back", "input", HEADSET, HEADSET)],
    ]
    assert not watch.missing and not watch.offered


def test_a_device_the_backend_found_gone_is_switched_back_to_when_it_returns():
    """The recovery fell back to the default (the watch saw no list meanwhile)."""
    watch = DeviceWatch(follow_default=True, sticky=True)
    watch.name("output", HEADSET)
    watch.lost("output")
    assert run(watch, host(), host((SPEAKERS, HEADSET))) == [
        [],
        [Decision("back", "output", HEADSET, SPEAKERS)],
    ]


def test_an_empty_answer_is_a_server_restarting_not_an_unplug():
    watch = DeviceWatch(follow_default=True, sticky=False)
    watch.name("output", HEADSET)
    assert run(watch, host((HEADSET,), HEADSET), DeviceSnapshot(), host((HEADSET,), HEADSET)) == [
        [],
        [],
        [],
    ]


def test_choosing_the_default_again_stops_watching_the_named_device():
    watch = DeviceWatch(follow_default=False, sticky=True)
    watch.name("output", "speakerB")
    run(watch, host(("speaker",), "speaker"))
    assert watch.missing == {"output"}
    watch.name("output", None)
    assert not watch.needed and not watch.missing
    assert run(watch, host(("speaker", "speakerB"), "speaker")) == [[]]


def test_windows_names_cut_to_31_characters_still_match():
    long_name = "Speakers (Realtek High Definition Audio)"
    cut = long_name[:31]
    assert DeviceSnapshot(outputs=(cut,)).has("output", long_name)
    assert not DeviceSnapshot(outputs=("Speakers",)).has("output", long_name)


async def test_the_follower_acts_on_each_decision_and_stops():
    """The loop: ask the (scripted) host, act on what the watch decided, in order."""
    answers = iter([host(), host((SPEAKERS, HEADSET), HEADSET), host()])
    acted: list[Decision] = []
    done = asyncio.Event()

    async def act(decision: Decision) -> None:
        acted.append(decision)
        if len(acted) == 2:
            done.set()

    follower = DeviceFollower(
        DeviceWatch(follow_default=True, sticky=False), lambda: next(answers), act, every=0.01
    )
    follower.update(asyncio.get_running_loop())
    assert follower.running
    await asyncio.wait_for(done.wait(), 5)
    await follower.stop()
    assert [d.name for d in acted] == [HEADSET, SPEAKERS]
    assert follower.checks == 3


async def test_the_follower_does_not_run_without_a_probe_or_a_need():
    async def act(decision: Decision) -> None:
        pytest.fail("nothing to act on")

    loop = asyncio.get_running_loop()
    idle = DeviceFollower(DeviceWatch(follow_default=False, sticky=False), host, act)
    idle.update(loop)
    blind = DeviceFollower(DeviceWatch(follow_default=True, sticky=False), None, act)
    blind.update(loop)
    assert not idle.running and not blind.running


async def test_a_paused_follower_asks_nothing():
    asked: list[int] = []

    def probe() -> DeviceSnapshot:
        asked.append(1)
        return host()

    async def act(decision: Decision) -> None:
        pass

    follower = DeviceFollower(
        DeviceWatch(follow_default=True, sticky=False), probe, act, paused=lambda: True
    )
    await follower.check()
    assert asked == []


@pytest.mark.skipif(sys.platform != "linux", reason="which hosts are asked, on Linux")
def test_on_linux_only_a_pulseaudio_server_is_asked_and_its_default_not_followed():
    probe, follow = probe_for(plugin=True, env={})
    assert probe is not None and not follow  # the plugin follows the default itself
    assert probe_for(plugin=False, env={}) == (None, False)  # plain ALSA: no cheap question
    assert winmm_snapshot() is None
