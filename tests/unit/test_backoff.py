"""Reconnect back-off: 0.5 s doubling to 30 s, with +-20 % jitter."""

from __future__ import annotations

import random

import pytest

from voicelive_tui.session.reconnect import BACKOFF_MAX_S, BACKOFF_START_S, backoff_delay

EXPECTED_BASE = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_constants() -> None:
    assert (BACKOFF_START_S, BACKOFF_MAX_S) == (0.5, 30.0)


@pytest.mark.parametrize(("attempt", "base"), list(enumerate(EXPECTED_BASE)))
def test_delay_doubles_to_the_cap_within_the_jitter_bounds(attempt: int, base: float) -> None:
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, rng) for _ in range(500)]
    assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
    # Jitter really spreads clients out: the delays are not all the same.
    assert max(delays) - min(delays) > base * 0.2


def test_extreme_jitter_values_hit_the_bounds() -> None:
    class Edge(random.Random):
        def __init__(self, pick: str) -> None:
            super().__init__()
            self.pick = pick

        def uniform(self, a: float, b: float) -> float:
            return a if self.pick == "low" else b

    assert backoff_delay(0, Edge("low")) == pytest.approx(0.4)
    assert backoff_delay(0, Edge("high")) == pytest.approx(0.6)
    assert backoff_delay(50, Edge("high")) == pytest.approx(36.0)
    # Hours of failed retries (2 ** 1100 overflows a float) still wait 30 s, not crash.
    assert backoff_delay(1100, Edge("low")) == pytest.approx(24.0)
    assert backoff_delay(10**6, Edge("high")) == pytest.approx(36.0)


def test_negative_attempt_is_treated_as_the_first() -> None:
    rng = random.Random(1)
    assert 0.4 <= backoff_delay(-3, rng) <= 0.6


def test_default_rng_is_used_when_none_is_given() -> None:
    assert 0.4 <= backoff_delay(0) <= 0.6
