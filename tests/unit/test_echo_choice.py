"""--echo-reference: the setting, the choice per backend, what the session asks for, what the
conversation learns from it (channels, status bar, summary), the recording's third channel
and the suspected self-interruptions."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voicelive_tui.audio.recorder import SessionRecorder
from voicelive_tui.config.resolve import Settings, build_parser, settings_from_args
from voicelive_tui.conversation.echo import EchoWatch, requested_reference, resembles
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.summary import session_summary
from voicelive_tui.session.service_config import build_session_config, choose_echo_reference
from voicelive_tui.ui.view import AudioStatus, status_view


def settings(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    return settings_from_args(build_parser().parse_args(argv), environ or {})


def test_the_flag_beats_the_environment_and_the_default_is_auto() -> None:
    assert settings([]).echo_reference == "auto"
    env = {"VOICELIVE_TUI_ECHO_REFERENCE": "Client"}
    assert settings([], env).echo_reference == "client"
    assert settings(["--echo-reference", "server"], env).echo_reference == "server"


def test_a_bad_environment_value_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive_tui import cli

    monkeypatch.setenv("VOICELIVE_TUI_ECHO_REFERENCE", "both")
    code = cli.main(["--demo", "--no-tui"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "voicelive-tui: error: VOICELIVE_TUI_ECHO_REFERENCE must be one of server, client, "
        "auto, got 'both'"
    ]


@pytest.mark.parametrize(
    ("given", "supports", "latency", "forwarded", "echo", "chosen"),
    [
        ("auto", True, 0.2, False, True, "client"),  # the default device buffer is 200 ms
        ("auto", True, 0.05, False, True, "server"),
        ("auto", True, 0.05, True, True, "client"),  # ssh -R: the service's timing is off
        ("auto", False, 0.0, True, True, "server"),  # WAV files, no devices: no reference
        ("client", False, 0.0, False, True, "server"),
        ("client", True, 0.05, False, True, "client"),
        ("server", True, 0.4, True, True, "server"),
        ("client", True, 0.4, True, False, "server"),  # --no-echo-cancellation: mono
    ],
)
def test_the_reference_chosen(given, supports, latency, forwarded, echo, chosen) -> None:
    s = Settings(echo_reference=given, pulse_forwarded=forwarded, echo_cancellation=echo)
    choice = choose_echo_reference(s, supports_client=supports, output_latency_s=latency)
    assert choice.reference == chosen
    assert choice.line().startswith(f"Echo reference: {chosen} (")


def test_the_session_asks_for_stereo_with_the_client_reference() -> None:
    s = Settings()
    client = build_session_config(s, reference="client").as_dict()
    assert client["input_audio_echo_cancellation"] == {
        "type": "server_echo_cancellation",
        "reference_source": "client",
        "channels": 2,
    }
    server = build_session_config(s).as_dict()
    assert server["input_audio_echo_cancellation"] == {"type": "server_echo_cancellation"}
    off = build_session_config(Settings(echo_cancellation=False), reference="client").as_dict()
    assert "input_audio_echo_cancellation" not in off


def sent_session(reference: str) -> dict:
    return {
        "type": "session.update",
        "session": build_session_config(Settings(), reference=reference).as_dict(),
    }


def test_stereo_appends_count_as_the_microphone_s_seconds_only() -> None:
    conv = Conversation()
    conv.apply_sent(sent_session("client"), 0.0)
    assert conv.echo.reference == "client" and conv.echo.input_channels == 2
    one_second_stereo = "A" * (24_000 * 4 * 4 // 3)  # base64 of 96000 bytes
    conv.apply_sent({"type": "input_audio_buffer.append", "audio": one_second_stereo}, 1.0)
    assert conv.audio_in_bytes == 48_000  # one second of 24 kHz mono PCM16
    summary = session_summary(conv)
    assert summary["usage"]["audio_in_s"] == 1.0
    assert summary["echo"] == {"reference": "client", "self_interruptions": 0, "suspects": []}


def test_the_status_bar_names_the_reference_with_real_devices() -> None:
    conv = Conversation()
    conv.apply_sent(sent_session("client"), 0.0)
    devices = AudioStatus(has_input=True, devices="PulseAudio: mic pulse, speaker pulse")
    assert status_view(conv, devices, host="h", mode="m", now=0.0).echo == "client ref"
    assert status_view(conv, AudioStatus(), host="h", mode="m", now=0.0).echo is None
    conv.apply_sent(sent_session("server"), 1.0)
    assert status_view(conv, devices, host="h", mode="m", now=0.0).echo == "server ref"
    assert requested_reference({"input_audio_echo_cancellation": None}) == "off"
    assert requested_reference({"voice": "x"}) is None


def test_resemblance_is_most_words_among_the_agent_s_last_ones() -> None:
    said = "Hello! I am your local Voice Live emulator. Ask me anything you like."
    assert resembles("ask me anything", said)
    assert resembles("voice live emulator hello", said)
    assert not resembles("what is the weather in Paris", said)
    assert not resembles("", said)


def agent_reply(conv: Conversation, text: str) -> None:
    events = [
        {"type": "response.created", "response": {"id": "r1"}},
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "item": {"id": "a1", "type": "message", "role": "assistant"},
        },
        {
            "type": "response.audio_transcript.delta",
            "response_id": "r1",
            "item_id": "a1",
            "delta": text,
        },
        {
            "type": "response.audio.delta",
            "response_id": "r1",
            "item_id": "a1",
            "delta": "A" * 64000,
        },  # 2 s of audio
    ]
    for event in events:
        conv.apply_received(event, 1.0)


def test_speech_over_the_agent_that_repeats_it_is_a_suspected_self_interruption() -> None:
    conv = Conversation()
    agent_reply(conv, "Hello! I am your local Voice Live emulator. Ask me anything you like.")
    conv.apply_received({"type": "input_audio_buffer.speech_started", "item_id": "u1"}, 2.0)
    conv.speech_over_playback("u1", "a1", heard_ms=1500)
    conv.apply_received(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "transcript": "local voice live emulator",
        },
        3.0,
    )
    assert conv.echo.suspected == 1 and conv.echo.suspects == ["u1"]
    assert status_view(conv, AudioStatus(), host="h", mode="m", now=0.0).self_interruptions == (
        "1 self-interruption"
    )
    assert session_summary(conv)["echo"]["self_interruptions"] == 1


def test_the_user_talking_over_the_agent_is_a_barge_in_not_an_echo() -> None:
    conv = Conversation()
    agent_reply(conv, "Hello! I am your local Voice Live emulator. Ask me anything you like.")
    conv.speech_over_playback("u1", "a1", heard_ms=1500)
    conv.apply_received(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "transcript": "stop, what is the weather in Paris",
        },
        3.0,
    )
    # Words the agent had not yet been heard saying do not count either.
    conv.speech_over_playback("u2", "a1", heard_ms=300)
    conv.apply_received(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u2",
            "transcript": "ask me anything you like",
        },
        4.0,
    )
    assert conv.echo.suspected == 0


def test_speech_with_nothing_playing_is_never_suspected() -> None:
    watch = EchoWatch()
    assert not watch.transcript("u9", "hello i am your local voice live emulator")
    assert not watch.transcript("u9", "")


def test_sound_over_the_agent_recognised_as_no_words_is_suspected() -> None:
    watch = EchoWatch()
    watch.speech_over_playback("u1", "Hello! This is the local Voice Live emulator.")
    assert watch.transcript("u1", " ")
    assert watch.suspected == 1


def test_the_recording_has_the_reference_as_a_third_channel(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    rec = SessionRecorder(path, reference=True)
    rec.add_mic(np.full(480, 1, np.int16))
    rec.add_reference(np.full(480, 3, np.int16))
    rec.add_speaker(np.full(480, 2, np.int16))
    rec.close()
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 3
        frames = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 3)
    assert frames.shape == (480, 3)
    assert frames[0].tolist() == [1, 2, 3]
    two = SessionRecorder(tmp_path / "two.wav")
    two.add_reference(np.ones(10, np.int16))  # no third channel: ignored
    two.close()
    with wave.open(str(tmp_path / "two.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() == 0


def test_the_noise_reduction_type_changes_live() -> None:
    from voicelive_tui.session import SessionOverrides

    config = build_session_config(Settings(), SessionOverrides(noise_reduction="far_field"))
    assert config.as_dict()["input_audio_noise_reduction"] == {"type": "far_field"}
    default = build_session_config(Settings()).as_dict()
    assert default["input_audio_noise_reduction"] == {"type": "azure_deep_noise_suppression"}


def test_the_echo_check_without_sound_devices_is_one_line_and_exit_5(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from voicelive_tui import cli

    code = cli.main(["--echo-check", "--no-audio", "--log-dir", str(tmp_path / "logs")])
    assert code == 5
    assert capsys.readouterr().err.splitlines() == [
        "voicelive-tui: error: the echo check needs sound devices: audio off (--no-audio): "
        "text only"
    ]


async def test_the_session_tells_of_a_suspected_self_interruption_once_then_counts(
    tmp_path: Path,
) -> None:
    """The dialogue's side: speech starts while the agent's audio is queued, its
    transcript repeats the agent: a warning notice with what to do, and a log line; the
    advice is not repeated for the next one, the count goes on."""
    import asyncio

    from voicelive_tui.audio.backends import WavBackend
    from voicelive_tui.logs import RunLogs
    from voicelive_tui.session.dialogue import Dialogue
    from voicelive_tui.updates import Notice, Update

    updates: list[Update] = []
    with RunLogs(tmp_path / "logs") as logs:
        audio = WavBackend(None, tmp_path / "out.wav")  # a speaker with a ring, not started
        dialogue = Dialogue(
            Settings(), audio=audio, logs=logs, emit=updates.append, quitting=asyncio.Event()
        )
        text = "Hello! This is the local Voice Live emulator. Speak, and I will play it back."
        for n in (1, 2):
            dialogue.record("received", {"type": "response.created", "response": {"id": f"r{n}"}})
            dialogue.record(
                "received",
                {
                    "type": "response.output_item.added",
                    "response_id": f"r{n}",
                    "item": {"id": f"a{n}", "type": "message", "role": "assistant"},
                },
            )
            dialogue.record(
                "received",
                {"type": "response.audio_transcript.delta", "response_id": f"r{n}",
                 "item_id": f"a{n}", "delta": text},
            )  # fmt: skip
            audio.play(f"a{n}", bytes(48_000))  # a second of the agent, queued
            dialogue.audio_item = f"a{n}"
            started = {"type": "input_audio_buffer.speech_started", "item_id": f"u{n}"}
            dialogue.record("received", started)
            await dialogue._on_speech_started(started)
            heard = {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": f"u{n}",
                "transcript": "the local voice live emulator",
            }
            dialogue.record("received", heard)
            await dialogue._on_user_transcript(heard)
    notices = [u.text for u in updates if isinstance(u, Notice)]
    assert dialogue.conversation.echo.suspected == 2
    assert len(notices) == 1, notices
    assert "interrupted itself" in notices[0] and "--echo-reference client" in notices[0]
    technical = next((tmp_path / "logs").glob("*_voicelive.log")).read_text()
    assert technical.count("Suspected self-interruption") == 2
