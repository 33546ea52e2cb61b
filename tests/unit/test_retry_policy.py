"""The reconnect back-off resets only after a connection stayed up; the cap is counted."""

from __future__ import annotations

import random

from voicelive_tui.session.reconnect import RetryPolicy, close_reason


def test_backoff_grows_over_short_lived_connections_and_resets_after_a_stable_one() -> None:
    rng = random.Random(1)
    policy = RetryPolicy(start_s=0.5, max_s=30.0, stable_after_s=10.0, cap=3)
    delays = []
    now = 0.0
    for _ in range(4):  # accepted, then closed at once: never a reset
        policy.connected(now)
        now += 0.1
        delays.append(policy.ended(now, rng))
    for delay, base in zip(delays, (0.5, 1.0, 2.0, 4.0), strict=True):
        assert base * 0.8 <= delay <= base * 1.2  # doubling, +-20 % jitter
    assert policy.keeps_closing
    policy.connected(now)
    now += 10.0  # stayed up
    assert policy.ended(now, rng) <= 0.5 * 1.2
    assert not policy.keeps_closing


def test_failed_attempts_count_towards_the_cap() -> None:
    policy = RetryPolicy(cap=2, max_s=1.0)
    assert policy.ended(0.0) <= 0.6 and not policy.keeps_closing
    assert policy.ended(1.0) <= 1.2 and policy.keeps_closing
    assert policy.ended(2.0) <= 1.2  # capped at max_s (+20 % jitter)


def test_close_reasons_name_what_happened() -> None:
    assert "without a close frame" in close_reason(1006, None, heartbeat=10)
    assert "4 MB limit (code 1009)" in close_reason(1009, None, heartbeat=10)
    pong = TimeoutError("No PONG received after 5.0 seconds")
    assert "keep-alive pings (silent for 15 s)" in close_reason(1006, pong, heartbeat=10)
    assert close_reason(1001, None, heartbeat=10) == "closed by the server (code 1001)"
