"""Push to talk on the dashboard (tap to talk), driven with keys against the emulator:
nothing is appended while the microphone is closed, the same key sends the turn, Esc
discards it, and opening the microphone while the agent speaks interrupts it."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from tests.helpers import write_wav
from voicelive_tui.ui.widgets.levels import VadIndicator

from .conftest import SIZE, wait_for

LEAD_S = 4.0
"""Silence before the speech in the microphone WAV: the dashboard opens the microphone
while it plays (at 2x, two seconds of real time)."""
MIC_SPEED = 2.0


@pytest.fixture
def late_speech(speech_wav: Path, tmp_path: Path) -> Path:
    with wave.open(str(speech_wav)) as w:
        speech = w.readframes(w.getnframes())
    return write_wav(tmp_path / "late.wav", bytes(int(24000 * LEAD_S) * 2) + speech)


def appends(emu) -> int:
    return emu.latest.counts["input_audio_buffer.append"] if emu.connections else 0


async def test_tap_opens_the_same_key_sends_one_turn_and_one_reply(
    emulator, dashboard, late_speech
):
    dash = dashboard(
        emulator, input_wav=late_speech, speed=MIC_SPEED, greeting=False, push_to_talk=True
    )
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(
            pilot, lambda: app.session is not None and app.session.conversation.push_to_talk
        )
        conv = app.session.conversation
        await wait_for(
            pilot,
            lambda: (
                emulator.connections and emulator.latest.session.get("turn_detection", 1) is None
            ),
            what="server VAD off",
        )
        # A second of microphone audio went by with the microphone closed: nothing sent.
        await wait_for(
            pilot,
            lambda: dash.audio.blocks_ticked * 20 >= 1000 / MIC_SPEED,
            what="a second of audio",
        )
        assert appends(emulator) == 0
        assert app.levels_panel.query_one(VadIndicator).vad.label.startswith("push to talk")
        await pilot.press("grave_accent")
        await wait_for(pilot, lambda: conv.talking, what="the microphone open")
        await wait_for(
            pilot, lambda: app.levels_panel.query_one(VadIndicator).vad.label == "talking"
        )
        await wait_for(pilot, lambda: dash.audio.input_done.is_set(), timeout=30, what="the speech")
        await wait_for(pilot, lambda: appends(emulator) > 0)
        await pilot.press("grave_accent")
        await wait_for(
            pilot, lambda: conv.answered_user_turns >= 1, timeout=30, what="the agent's reply"
        )
        sent_while_open = appends(emulator)
        await wait_for(
            pilot,
            lambda: dash.audio.blocks_ticked * 20 >= 1000 / MIC_SPEED + 2000,
            what="more audio, closed",
        )
        record = emulator.latest
    assert not conv.talking
    assert record.counts["input_audio_buffer.commit"] == 1
    assert record.counts["response.create"] == 1
    assert appends(emulator) == sent_while_open  # closed again: nothing more left
    users = [t for t in conv.turns if t.role == "user"]
    assert len(users) == 1 and users[0].text and not users[0].text.startswith("[speech")
    assert [r["status"] for r in record.responses] == ["completed"]
    assert "input_audio_buffer.speech_started" not in record.sent


async def test_opening_during_a_reply_barges_in_and_esc_discards(
    emulator_factory, dashboard, late_speech
):
    emu = await emulator_factory(speed=1.0, pacing="realtime")
    dash = dashboard(emu, input_wav=late_speech, speed=MIC_SPEED, push_to_talk=True)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.session is not None)
        conv = app.session.conversation
        # The greeting plays (real-time pacing): open the microphone over it.
        await wait_for(
            pilot,
            lambda: conv.response_active and dash.audio.pending_ms() > 300,
            what="the greeting playing",
        )
        await pilot.press("grave_accent")
        await wait_for(
            pilot,
            lambda: emu.latest.responses and emu.latest.responses[0]["status"] == "cancelled",
            what="the greeting cancelled",
        )
        assert conv.talking
        assert emu.latest.counts["response.cancel"] == 1
        await pilot.press("escape")
        await wait_for(
            pilot, lambda: emu.latest.counts["input_audio_buffer.clear"] == 1, what="the clear"
        )
        assert not conv.talking
        assert emu.latest.counts["input_audio_buffer.commit"] == 0
