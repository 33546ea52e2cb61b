"""The glitch benchmark's gap finder (benchmarks/glitch.py), on made-up recordings."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import glitch_benchmark
from voicelive_tui.emulator.speech import fallback_tones

RATE = 24_000


@pytest.fixture(scope="module")
def glitch():
    return glitch_benchmark()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """Beeps with 60 ms pauses, one sentence repeated like long-reply does."""
    noise = np.random.default_rng(1).integers(-3000, 3000, 10 * RATE).astype(np.int16)
    beeps = np.frombuffer(fallback_tones("one two three four five six seven", RATE), np.int16)
    words = np.where(beeps != 0, noise[: beeps.size], 0).astype(np.int16)  # not periodic
    return np.concatenate([words] * 3)


def at(ms: int) -> int:
    return ms * RATE // 1000


def test_the_same_audio_has_no_gaps(glitch, speech):
    result = glitch.analyse(speech, speech)
    assert result["gaps"] == 0 and result["speed_ratio"] == 1.0


def test_inserted_silences_are_gaps_and_the_pauses_of_the_speech_are_not(glitch, speech):
    heard = np.concatenate(
        [
            np.zeros(at(300), np.int16),  # before the speech: not counted
            speech[at(40) : at(500)],  # the monitor missed the very start
            np.zeros(at(50), np.int16),  # a 50 ms hole inside a word
            speech[at(500) : at(2100)],
            np.zeros(at(8), np.int16),  # 8 ms: below the 10 ms rule
            speech[at(2100) : at(3000)],
            np.zeros(at(400), np.int16),  # a long hole, in the second sentence
            speech[at(3000) :],
        ]
    )
    result = glitch.analyse(speech, heard)
    assert result["gaps"] == 2
    assert result["longest_gap_ms"] == pytest.approx(400, abs=3)
    assert result["speed_ratio"] == pytest.approx((speech.size + at(458 - 40)) / speech.size, 0.01)
