"""The emulator's end-of-turn policy per detector (emulator/turn_end.py), from the words."""

from __future__ import annotations

import pytest

from voicelive_tui.emulator.turn_end import FILLER_HOLD_MS, end_wait_ms, without_fillers

HEARING = {"input_audio_transcription": {"model": "azure-speech"}}


@pytest.mark.parametrize(
    "words, wait",
    [
        ("what time is it", 250),  # finished: at the probe, sooner than the 800 ms window
        ("book a table for two um", 800 + FILLER_HOLD_MS),  # a filler holds it
        ("book a table and", 800 + FILLER_HOLD_MS),  # so does a word no sentence ends with
        ("", 800),  # nothing heard: the silence window
        (None, 800),  # recognition failed: the silence window
    ],
)
def test_semantic_detection_waits_by_the_last_word(words: str | None, wait: int) -> None:
    td = {"type": "azure_semantic_vad", "silence_duration_ms": 800}
    assert end_wait_ms(td, HEARING, words) == wait


def test_server_vad_ignores_the_words_and_eou_timeout_caps_the_wait() -> None:
    td = {"type": "server_vad", "silence_duration_ms": 800}
    assert end_wait_ms(td, HEARING, "book a table and") == 800
    eou = {"model": "semantic_detection_v1", "threshold_level": "high", "timeout_ms": 1000}
    assert end_wait_ms({**td, "end_of_utterance_detection": eou}, HEARING, None) == 1000


def test_filler_words_are_removed_from_a_transcript() -> None:
    assert without_fillers("um I want uh, a table") == "I want a table"
