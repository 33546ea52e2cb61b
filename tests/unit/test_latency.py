"""latency.py: the capture clock, stage figures that add up, percentiles, the summary."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from voicelive_tui.conversation.latency import (
    STAGES,
    CaptureClock,
    LatencyLog,
    TurnTiming,
    percentile,
)
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.protocol import is_silent_delta


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
    voice, typed = summary["voice"], summary["typed"]
    assert isinstance(voice, dict) and isinstance(typed, dict)
    assert {k: voice[k] for k in ("count", "p50_ms", "p90_ms")} == {
        "count": 1,
        "p50_ms": 1000.0,
        "p90_ms": 1000.0,
    }
    assert {k: typed[k] for k in ("count", "p50_ms", "p90_ms")} == {
        "count": 1,
        "p50_ms": 300.0,
        "p90_ms": 300.0,
    }
    turns = summary["turns"]
    assert isinstance(turns, list) and len(turns) == 3
    assert turns[0]["stages"]["playback"] == 200.0
    assert turns[2]["total_ms"] is None


def voice_turn(start: float, stages: tuple[float, float, float, float]) -> TurnTiming:
    marks = [start]
    for ms in stages:
        marks.append(marks[-1] + ms / 1000)
    return TurnTiming(*(["voice"] + marks))  # type: ignore[arg-type]


def test_spread_per_stage_and_the_worst_turn_explained() -> None:
    turns = [voice_turn(10.0 * n, (500, 100, 200, 20)) for n in range(99)]
    turns.append(voice_turn(2000.0, (1400, 150, 300, 50)))
    turns.append(TurnTiming(kind="typed", sent=3000.0, first_output=3000.4))
    summary = LatencyLog(turns).summary()
    voice = summary["voice"]
    assert isinstance(voice, dict)
    assert voice["count"] == 100
    assert voice["p50_ms"] == voice["p95_ms"] == 820.0
    assert voice["p99_ms"] == 820.0 and voice["max_ms"] == 1900.0
    stages = voice["stages"]
    assert stages["end-of-speech wait"]["max_ms"] == 1400.0
    assert stages["first audio"]["p90_ms"] == 200.0
    worst = voice["worst"]
    assert worst["turn"] == 100 and worst["dominant_stage"] == "end-of-speech wait"
    assert worst["explained"] == "end-of-speech wait: 1.40 s of 1.90 s"
    typed = summary["typed"]
    assert isinstance(typed, dict) and typed["worst"]["turn"] == 101
    assert typed["stages"] == {
        "first output": {
            "p50_ms": 400.0,
            "p90_ms": 400.0,
            "p95_ms": 400.0,
            "p99_ms": 400.0,
            "max_ms": 400.0,
        }
    }


def test_an_approval_wait_is_shown_apart_and_not_counted() -> None:
    """An MCP turn approved after 10.5 s: the agent's latency is what it took itself."""
    turn = voice_turn(0.0, (500, 100, 11_000, 50))
    turn.waits.append((0.7, 11.2))
    assert [round(ms) for _n, ms in turn.stages()] == [500, 100, 500, 50]
    assert turn.total_ms == pytest.approx(1150.0)
    assert turn.approval_wait_ms == pytest.approx(10_500.0)
    assert turn.explain() == (
        "end-of-speech wait: 0.50 s of 1.15 s (and 10.50 s waiting for your approval)"
    )
    (entry,) = LatencyLog([turn]).summary()["turns"]  # type: ignore[misc]
    assert entry["approval_wait_ms"] == 10_500.0 and entry["total_ms"] == 1150.0


def test_a_first_delta_of_silence_is_not_the_first_sound() -> None:
    """TTFA is the first non-silent sample: a leading 100 ms of silence is played first,
    so the answer is heard 100 ms after playback started."""
    silence = base64.b64encode(bytes(4800)).decode()  # 100 ms of zeros
    tone = base64.b64encode(np.full(2400, 3000, dtype="<i2").tobytes()).decode()
    for playback_first in (True, False):
        conv = Conversation()
        conv.apply_received({"type": "input_audio_buffer.speech_stopped", "item_id": "u"}, 1.0)
        conv.apply_received({"type": "response.created", "response": {"id": "r"}}, 1.2)
        delta = {"type": "response.audio.delta", "response_id": "r", "item_id": "a"}
        conv.apply_received({**delta, "delta": silence}, 1.4)
        (timing,) = conv.latencies
        assert timing.first_delta is None and timing.silent_lead_ms == 100.0
        if playback_first:
            conv.playback_started("a", 1.45)
            conv.apply_received({**delta, "delta": tone}, 1.5)
            assert timing.first_sound == pytest.approx(1.55)  # 1.45 + the silence
        else:
            conv.apply_received({**delta, "delta": tone}, 1.5)
            conv.playback_started("a", 1.6)
            assert timing.first_sound == pytest.approx(1.7)
        assert timing.first_delta == 1.5
        assert [name for name, _ms in timing.stages()][-1] == "playback"
    assert is_silent_delta({"delta": silence}) and not is_silent_delta({"delta": tone})
    assert not is_silent_delta({"delta": "<4800 bytes>"})  # an events-log line: unknown
    assert not is_silent_delta({"delta": "not base64!"})


def _spoken_turn(conv: Conversation, n: int, t0: float, *, switch_at: float | None = None) -> None:
    """One spoken turn from ``t0``: speech stopped, response, first audio, heard at +1 s."""
    tone = base64.b64encode(np.full(2400, 3000, dtype="<i2").tobytes()).decode()
    conv.apply_received({"type": "input_audio_buffer.speech_stopped", "item_id": f"u{n}"}, t0)
    conv.apply_received({"type": "response.created", "response": {"id": f"r{n}"}}, t0 + 0.2)
    if switch_at is not None:
        conv.device_switched(switch_at, playing=False)
    delta = {"type": "response.audio.delta", "response_id": f"r{n}", "item_id": f"a{n}"}
    conv.apply_received({**delta, "delta": tone}, t0 + 0.5)
    conv.playback_started(f"a{n}", t0 + 1.0)
    conv.apply_received(
        {"type": "response.done", "response": {"id": f"r{n}", "status": "completed"}}, t0 + 1.1
    )


def test_a_turn_that_spans_a_device_switch_is_marked_and_the_next_is_not() -> None:
    """Issue 25: the turn waiting for its answer when the speaker was switched says so
    (summary, latency view, timeline); the next turn's voice-to-voice is its own."""
    conv = Conversation()
    _spoken_turn(conv, 1, 10.0, switch_at=10.3)
    _spoken_turn(conv, 2, 20.0)
    conv.device_switched(21.5, playing=True)  # the answer to turn 2 still playing
    conv.device_switched(40.0, playing=False)  # between turns: no turn spans it
    first, second = conv.latencies
    assert first.device_switched and first.total_ms == pytest.approx(1000)
    assert second.device_switched and second.total_ms == pytest.approx(1000)
    _spoken_turn(conv, 3, 50.0)
    third = conv.latencies[-1]
    assert not third.device_switched and third.total_ms == pytest.approx(1000)
    turns = LatencyLog(conv.latencies).summary()["turns"]
    assert [t["device_switched"] for t in turns] == [True, True, False]  # type: ignore[index]
    assert [m.at for m in conv.timeline.marks if m.glyph == "⇄"] == [10.3, 21.5, 40.0]
