"""Each turn detector ends a turn its own way (emulator/turn_end.py), with the real SDK.

Whether a turn has ended after so much silence is asked without sleeping: the audio, then
``input_audio_buffer.clear``; events are handled in order, so a turn not committed before
``input_audio_buffer.cleared`` had not ended when that much audio had arrived.
"""

from __future__ import annotations

from typing import Any

import pytest

TRANSCRIBED = {"model": "azure-speech"}


async def ended_after(
    probe: Any, turn: Any, td: dict[str, Any], tail_ms: int, **session: Any
) -> bool:
    """Configure ``td``, send the speech and ``tail_ms`` of silence after it: did the turn end?"""
    await probe.conn.session.update(session={"turn_detection": td, **session})
    await probe.wait_for("session.updated")
    speech_end = turn.speech_end_ms * 48
    await probe.send_audio(turn.pcm[:speech_end] + bytes(48 * tail_ms), chunk_ms=20)
    await probe.conn.input_audio_buffer.clear()
    await probe.wait_for("input_audio_buffer.cleared", timeout=30)
    return "input_audio_buffer.committed" in probe.types()


@pytest.mark.parametrize(
    "eou, tail_ms, ends",
    [
        (None, 700, True),  # server VAD: 500 ms of silence ends it
        ({"threshold_level": "low"}, 700, True),  # low adds nothing
        ({"threshold_level": "high"}, 1000, False),  # high waits 500 + 700 ms
        ({"threshold_level": "high"}, 1400, True),
        ({"threshold_level": "high", "timeout_ms": 800}, 1000, True),  # the timeout caps it
    ],
)
async def test_end_of_utterance_level_and_timeout_shift_the_end(
    emulator, voicelive_client, speech_turn, eou, tail_ms, ends
):
    td: dict[str, Any] = {
        "type": "server_vad",
        "silence_duration_ms": 500,
        "create_response": False,
    }
    if eou is not None:
        td["end_of_utterance_detection"] = {"model": "semantic_detection_v1", **eou}
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        assert await ended_after(probe, speech_turn(), td, tail_ms) is ends


@pytest.mark.parametrize(
    "kind, transcription, ends",
    [
        ("server_vad", TRANSCRIBED, False),  # waits the whole 1500 ms silence window
        ("azure_semantic_vad", None, False),  # hears no words: the silence window too
        ("azure_semantic_vad", TRANSCRIBED, True),  # a finished sentence ends sooner
        ("azure_semantic_vad_en", TRANSCRIBED, True),
        ("azure_semantic_vad_multilingual", TRANSCRIBED, True),
    ],
)
async def test_semantic_detectors_end_a_finished_sentence_sooner(
    emulator, voicelive_client, speech_turn, kind, transcription, ends
):
    td = {"type": kind, "silence_duration_ms": 1500, "create_response": False}
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        ended = await ended_after(
            probe, speech_turn(), td, 800, input_audio_transcription=transcription
        )
    assert ended is ends


@pytest.mark.parametrize("margin_ms, heard", [(500, False), (-1000, True)])
async def test_speech_shorter_than_speech_duration_starts_no_turn(
    emulator, voicelive_client, speech_turn, margin_ms, heard
):
    turn = speech_turn()
    needed = turn.speech_end_ms - turn.speech_start_ms + margin_ms
    td = {"type": "azure_semantic_vad", "speech_duration_ms": needed, "create_response": False}
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await ended_after(probe, turn, td, 700)
    assert ("input_audio_buffer.speech_started" in probe.types()) is heard


async def test_settings_the_detector_cannot_honour_get_a_warning(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        td = {"type": "server_vad", "remove_filler_words": True, "languages": ["en"]}
        await probe.conn.session.update(session={"turn_detection": td})
        await probe.wait_for("session.updated")
        first = await probe.wait_for("warning")
        second = await probe.wait_for("warning")
        td = {"type": "azure_semantic_vad"}
        await probe.conn.session.update(
            session={"turn_detection": td, "input_audio_transcription": None}
        )
        await probe.wait_for("session.updated")
        third = await probe.wait_for("warning")
    assert "remove_filler_words" in first.warning.message
    assert "languages" in second.warning.message
    assert third.warning.code == "semantic_detection_without_transcription"


@pytest.mark.parametrize(
    "td, param",
    [
        (
            {
                "type": "azure_semantic_vad",
                "end_of_utterance_detection": {
                    "model": "semantic_detection_v1",
                    "threshold_level": "extreme",
                },
            },
            "session.turn_detection.end_of_utterance_detection.threshold_level",
        ),
        (
            {"type": "azure_semantic_vad", "end_of_utterance_detection": {"model": "v9"}},
            "session.turn_detection.end_of_utterance_detection.model",
        ),
        (
            {"type": "azure_semantic_vad", "speech_duration_ms": -5},
            "session.turn_detection.speech_duration_ms",
        ),
        (
            {"type": "azure_semantic_vad_multilingual", "languages": "en"},
            "session.turn_detection.languages",
        ),
        (
            {"type": "server_vad", "silence_duration_ms": 20000},
            "session.turn_detection.silence_duration_ms",
        ),
        ({"type": "smart_vad"}, "session.turn_detection.type"),
    ],
)
async def test_a_refused_value_is_an_error_naming_it(emulator, voicelive_client, td, param):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        before = dict(emulator.latest.session["turn_detection"])
        await probe.conn.session.update(session={"turn_detection": td})
        error = await probe.wait_for("error")
    assert error.error.param == param
    assert error.error.code == "invalid_session_config"
    assert emulator.latest.session["turn_detection"] == before  # all or nothing
