"""The dashboard's views, computed from conversation state without Textual."""

from __future__ import annotations

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.ui.view import (
    AudioStatus,
    StatusView,
    VadView,
    glitch_label,
    mic_label,
    status_view,
    vad_view,
)


def ready_conversation() -> Conversation:
    conv = Conversation()
    conv.apply_received(
        {"type": "session.updated", "session": {"id": "sess_1", "voice": {"name": "alloy"}}}, 0.0
    )
    return conv


def test_vad_view_before_ready_names_the_connection():
    assert vad_view(Conversation(), AudioStatus()) == VadView("connecting", "offline")


def test_vad_view_follows_speech_then_thinking():
    conv = ready_conversation()
    assert vad_view(conv, AudioStatus()).state == "listening"
    conv.apply_received({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0}, 1.0)
    assert vad_view(conv, AudioStatus()) == VadView("you are speaking", "speaking")
    conv.apply_received({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900}, 2.0)
    assert vad_view(conv, AudioStatus()).state == "thinking"


def test_agent_is_speaking_while_its_audio_still_plays():
    conv = ready_conversation()
    assert vad_view(conv, AudioStatus(playing=True)) == VadView("agent speaking", "agent")


def test_muted_wins_over_listening_but_not_over_the_agent():
    conv = ready_conversation()
    conv.muted = True
    assert vad_view(conv, AudioStatus()).state == "muted"
    assert vad_view(conv, AudioStatus(playing=True)).state == "agent"


def test_mic_label():
    conv = ready_conversation()
    assert mic_label(conv, AudioStatus(has_input=True)) == "live"
    assert mic_label(conv, AudioStatus()) == "no audio"
    assert mic_label(conv, AudioStatus(), scripted=True) == "scripted"
    conv.muted = True
    assert mic_label(conv, AudioStatus(has_input=True), scripted=True) == "MUTED"


def test_glitches_only_when_non_zero():
    assert glitch_label(AudioStatus()) is None
    assert glitch_label(AudioStatus(underruns=1)) == "1 underrun"
    assert glitch_label(AudioStatus(underruns=3, overflows=2)) == "3 underruns, 2 overflows"


def test_status_view_from_state():
    conv = ready_conversation()
    view = status_view(
        conv,
        AudioStatus(has_input=True, devices="PulseAudio: mic pulse"),
        host="example.com",
        mode="model gpt-realtime",
        now=1.0,
    )
    assert view == StatusView(
        connection="ready",
        host="example.com",
        mode="model gpt-realtime",
        session_id="sess_1",
        voice="alloy",
        mic="live",
        audio="PulseAudio: mic pulse",
    )


def test_status_view_counts_down_while_reconnecting():
    conv = ready_conversation()
    conv.connection_lost("closed by server", 5.0, now=10.0)
    view = status_view(conv, AudioStatus(), host="h", mode="m", now=12.2)
    assert view.connection == "reconnecting" and view.reconnect_in_s == 3
    assert status_view(conv, AudioStatus(), host="h", mode="m", now=12.2) == view
    assert status_view(conv, AudioStatus(), host="h", mode="m", now=13.2) != view
