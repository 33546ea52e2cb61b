"""Turn taking from flags and the environment, its wire form, and the settings screen's
parsing and error mapping (config/turns.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicelive_tui import cli
from voicelive_tui.config.resolve import Settings, build_parser, settings_from_args
from voicelive_tui.config.turns import (
    TurnTaking,
    field_of_param,
    parse_field,
    show_value,
    turn_detection_wire,
)
from voicelive_tui.session.service_config import build_session_config


def settings(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    return settings_from_args(build_parser().parse_args(argv), environ or {})


def test_environment_sets_every_turn_parameter() -> None:
    env = {
        "AZURE_VOICELIVE_TURN_DETECTION": "azure_semantic_vad_multilingual",
        "AZURE_VOICELIVE_VAD_SPEECH_MS": "80",
        "AZURE_VOICELIVE_EOU": "high",
        "AZURE_VOICELIVE_EOU_TIMEOUT_MS": "1200",
        "AZURE_VOICELIVE_REMOVE_FILLER_WORDS": "true",
        "AZURE_VOICELIVE_VAD_LANGUAGES": "en-US, de-DE",
        "AZURE_VOICELIVE_INTERRUPT_RESPONSE": "off",
        "AZURE_VOICELIVE_AUTO_TRUNCATE": "1",
        "AZURE_VOICELIVE_CREATE_RESPONSE": "no",
        "AZURE_VOICELIVE_NOISE_REDUCTION": "near_field",
        "AZURE_VOICELIVE_TRANSCRIPTION_MODEL": "whisper-1",
        "AZURE_VOICELIVE_TRANSCRIPTION_LANGUAGE": "en,de",
    }
    wire = build_session_config(settings([], env)).as_dict()
    assert wire["turn_detection"] == {
        "type": "azure_semantic_vad_multilingual",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "speech_duration_ms": 80,
        "remove_filler_words": True,
        "languages": ["en-US", "de-DE"],
        "interrupt_response": False,
        "auto_truncate": True,
        "create_response": False,
        "end_of_utterance_detection": {
            "model": "semantic_detection_v1_multilingual",
            "threshold_level": "high",
            "timeout_ms": 1200,
        },
    }
    assert wire["input_audio_noise_reduction"] == {"type": "near_field"}
    assert wire["input_audio_transcription"] == {"model": "whisper-1", "language": "en,de"}


def test_flag_beats_environment_and_defaults_send_nothing_extra() -> None:
    s = settings(["--turn-detection", "server_vad"], {"AZURE_VOICELIVE_TURN_DETECTION": "none"})
    assert turn_detection_wire(s.turn_taking) == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
    }


@pytest.mark.parametrize("argv", [["--push-to-talk"], ["--turn-detection", "none"]])
def test_push_to_talk_and_none_send_null(argv: list[str]) -> None:
    assert build_session_config(settings(argv)).as_dict()["turn_detection"] is None


def test_push_to_talk_from_the_environment() -> None:
    assert settings([], {"AZURE_VOICELIVE_PUSH_TO_TALK": "1"}).push_to_talk


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--turn-detection", "smart"], "invalid choice"),
        (["--eou", "extreme"], "invalid choice"),
        (["--interrupt-response", "maybe"], "--interrupt-response must be on or off"),
        (["--vad-speech-ms", "100"], "--vad-speech-ms is for the azure_semantic_vad"),
        (["--remove-filler-words", "on"], "--remove-filler-words is for the azure_semantic"),
        (["--vad-languages", "en"], "--vad-languages is for --turn-detection azure_semantic_vad_m"),
        (["--eou-timeout-ms", "500"], "--eou-timeout-ms needs --eou"),
        (["--eou", "low", "--eou-timeout-ms", "-1"], "--eou-timeout-ms must be between 0 and"),
        (["--phrase-list", "missing.txt"], "cannot use --phrase-list missing.txt: No such file"),
        (["--push-to-talk"], "--push-to-talk needs a key to talk"),
    ],
)
def test_bad_turn_settings_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code = cli.main(["--demo", "--no-tui", *argv])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1 and words in err[0], err


def test_an_empty_phrase_list_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "p.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    assert cli.main(["--demo", "--phrase-list", str(empty)]) == 2
    assert "holds no phrase" in capsys.readouterr().err


@pytest.mark.parametrize(
    "param, field",
    [
        ("session.turn_detection.silence_duration_ms", "silence_ms"),
        ("session.turn_detection.end_of_utterance_detection.threshold_level", "eou"),
        ("session.turn_detection.end_of_utterance_detection.timeout_ms", "eou_timeout_ms"),
        ("session.turn_detection.type", "detector"),
        ("session.turn_detection", "detector"),
        ("session.input_audio_noise_reduction.type", "noise_reduction"),
        ("session.input_audio_transcription.language", "transcription_language"),
        ("session.voice", None),
        (None, None),
    ],
)
def test_the_services_param_names_the_field(param: str | None, field: str | None) -> None:
    assert field_of_param(param) == field


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("threshold", "0.7", 0.7),
        ("silence_ms", "20000", 20000),  # the range is the service's to refuse
        ("eou_timeout_ms", "default", None),
        ("interrupt_response", "off", False),
        ("auto_truncate", "", None),
        ("languages", "en-US, fr-FR", ("en-US", "fr-FR")),
        ("detector", "azure_semantic_vad_en", "azure_semantic_vad_en"),
        ("transcription_language", "default", None),
    ],
)
def test_typed_values_parse_and_show_back(name: str, text: str, value: object) -> None:
    assert parse_field(name, text) == value
    assert parse_field(name, show_value(value)) == value


@pytest.mark.parametrize(
    "name, text",
    [
        ("threshold", "high"),
        ("silence_ms", "1.5"),
        ("eou", "extreme"),
        ("create_response", "perhaps"),
    ],
)
def test_values_of_the_wrong_kind_are_refused_locally(name: str, text: str) -> None:
    with pytest.raises(ValueError):
        parse_field(name, text)


def test_eou_off_sends_no_end_of_utterance_detection() -> None:
    assert "end_of_utterance_detection" not in (turn_detection_wire(TurnTaking()) or {})
