"""latency.py: the capture clock, stage figures that add up, percentiles, the summary."""

from __future__ import annotations

import pytest

from voicelive_tui.conversation.latency import (
    STAGES,
    CaptureClock,
    LatencyLog,
    TurnTiming,
    percentile,
)


def test_the_capture_clock_places_an_audio_position_in_the_chunk_that_held_it() -> None:
    clock = CaptureClock()
    for i in range(10):  # 20 ms chunks captured every 20 ms from t=100 s
        clock.appended(20, 100.0 + 0.02 * (i + 1))
    assert clock.time_of(200) == pytest.approx(100.2)
    assert clock.time_of(190) == pytest.approx(100.19)
    assert clock.time_of(201) is None  # not appended yet


def test_a_mute_gap_does_not_shift_later_positions() -> None:
    clock = CaptureClock()
    clock.appended(20, 1.00)
    clock.appended(20, 5.00)  # muted for four seconds between the two chunks
    assert clock.time_of(30) == pytest.approx(4.99)
    assert clock.time_of(10) == pytest.approx(0.99)


def test_stages_add_up_to_voice_to_voice() -> None:
    turn = TurnTiming(
        speech_end=10.0,
        speech_stopped=10.55,
        response_created=10.6,
        first_delta=10.85,
        first_sound=11.1,
    )
    stages = dict(turn.stages())
    assert list(stages) == list(STAGES)
    assert stages["end-of-speech wait"] == pytest.approx(550)
    assert turn.total_ms == pytest.approx(sum(stages.values()))
    assert turn.total_ms == pytest.approx(1100)


def test_an_incomplete_turn_has_no_total_but_shows_what_is_known() -> None:
    turn = TurnTiming(speech_end=1.0, speech_stopped=1.5)
    assert turn.total_ms is None
    assert turn.stages() == [("end-of-speech wait", pytest.approx(500))]


def test_percentiles_and_summary() -> None:
    assert percentile([], 50) is None
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 11)), 90) == 9
    log = LatencyLog(
        [
            TurnTiming(speech_end=0, speech_stopped=0.5, response_created=0.6,
                       first_delta=0.8, first_sound=1.0),
            TurnTiming(kind="typed", sent=5.0, first_output=5.3),
            TurnTiming(speech_end=9.0),  # interrupted before any answer
        ]
    )  # fmt: skip
    summary = log.summary()
    assert summary["voice"] == {"count": 1, "p50_ms": 1000.0, "p90_ms": 1000.0}
    assert summary["typed"] == {"count": 1, "p50_ms": 300.0, "p90_ms": 300.0}
    turns = summary["turns"]
    assert isinstance(turns, list) and len(turns) == 3
    assert turns[0]["stages"]["playback"] == 200.0
    assert turns[2]["total_ms"] is None
