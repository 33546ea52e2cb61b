"""Token usage against the emulator (issue 24): ``--summary-json`` holds exactly what the
``response.done`` events in ``events.jsonl`` reported, and the emulator's figures are
realistic (10 audio tokens a second in, 20 out, cached instructions, limits that fall)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli, wav_turn_args
from tests.integration.session_helpers import TEST_KEY
from voicelive_tui.conversation.usage import TokenUsage
from voicelive_tui.emulator.activity import TOKEN_LIMIT
from voicelive_tui.emulator.faults import parse_faults
from voicelive_tui.prices import PRICED_KINDS

TOKEN_KEYS = ("input_tokens", "output_tokens", "total_tokens")


def greeted_turn(endpoint: str, speech: Path, where: Path) -> list[str]:
    """One spoken turn in console mode after the agent's greeting (two responses)."""
    return [a for a in wav_turn_args(endpoint, TEST_KEY, speech, where) if a != "--no-greeting"]


def received(log_dir: Path, kind: str) -> list[dict[str, Any]]:
    """Every received event of type ``kind`` in the run's events.jsonl, in order."""
    (path,) = log_dir.glob("*_events.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [
        e["event"]
        for e in lines
        if e.get("direction") == "received" and e.get("event", {}).get("type") == kind
    ]


# Slow: real-time turns; the usage, cost and budget rules are unit-tested in the fast run.
@pytest.mark.slow
async def test_summary_usage_is_the_sum_of_the_response_done_usages(
    emulator_factory, speech_wav: Path, tmp_path: Path
) -> None:
    emu = await emulator_factory(speed=1.0)
    summary_path, log_dir = tmp_path / "summary.json", tmp_path / "logs"
    code, out, err = await run_cli(
        *greeted_turn(emu.endpoint, speech_wav, tmp_path), "--summary-json", str(summary_path)
    )
    assert code == 0, err
    summary = json.loads(summary_path.read_text())
    assert summary["version"] == 1
    usage = summary["usage"]
    done = [e["response"] for e in received(log_dir, "response.done")]
    assert len(done) == 2  # the greeting and the answer
    assert [r["response_id"] for r in usage["responses"]] == [r["id"] for r in done]
    for mine, wire in zip(usage["responses"], done, strict=True):
        for key in TOKEN_KEYS:
            assert mine[key] == wire["usage"][key], key
        details = wire["usage"]["input_token_details"]
        assert mine["input_cached_tokens"] == details["cached_tokens"]
        assert mine["input_audio_tokens"] == details["audio_tokens"]
        assert mine["output_audio_tokens"] == wire["usage"]["output_token_details"]["audio_tokens"]
    # Per turn: each agent turn's tokens are its response's; the total is their sum.
    by_item = {o["id"]: r["usage"] for r in done for o in r["output"] if o["type"] == "message"}
    assert len(usage["turns"]) == 2
    for turn in usage["turns"]:
        assert turn["total_tokens"] == by_item[turn["item_id"]]["total_tokens"]
    for key in TOKEN_KEYS:
        assert usage["total"][key] == sum(r["usage"][key] for r in done)
    assert out.count("🪙 Tokens ") == 2

    # Realistic figures: instructions cached once processed, ~10 audio tokens a second in
    # (the committed speech) and ~20 a second out (the audio received).
    greeting, answer = (r["usage"] for r in done)
    assert greeting["input_token_details"]["cached_tokens"] == 0
    cached = answer["input_token_details"]["cached_tokens"]
    assert 0 < cached == greeting["input_token_details"]["text_tokens"]
    (started,) = received(log_dir, "input_audio_buffer.speech_started")
    (stopped,) = received(log_dir, "input_audio_buffer.speech_stopped")
    spoken_s = (stopped["audio_end_ms"] - started["audio_start_ms"]) / 1000
    audio_in = answer["input_token_details"]["audio_tokens"]
    assert 8 <= audio_in / spoken_s <= 12, (audio_in, spoken_s)
    assert 19 <= usage["audio_tokens_per_s"]["output"] <= 20.5, usage

    # rate_limits.updated falls by what each response reported.
    limits = [
        {r["name"]: r["remaining"] for r in e["rate_limits"]}
        for e in received(log_dir, "rate_limits.updated")
    ]
    assert limits[0]["tokens"] == TOKEN_LIMIT
    assert limits[1]["tokens"] == TOKEN_LIMIT - greeting["total_tokens"]
    assert limits[1]["requests"] == limits[0]["requests"] - 1


# Slow: real-time turns; the usage, cost and budget rules are unit-tested in the fast run.
@pytest.mark.slow
async def test_cost_budget_and_low_limit_against_the_emulator(
    emulator_factory, speech_wav: Path, tmp_path: Path
) -> None:
    """Cost is the reported tokens times the --prices table; a budget the first response
    passes warns once; a token limit the greeting nearly spends warns once."""
    emu = await emulator_factory(speed=1.0, faults=parse_faults(["rate-limit-tokens=15"]))
    table = {
        "currency": "EUR",
        "per_tokens": 1000,
        "date": "2026-12-01",
        "source": "test",
        "tiers": {"pro": {kind: float(i + 1) for i, kind in enumerate(PRICED_KINDS)}},
    }
    prices, summary_path = tmp_path / "prices.json", tmp_path / "summary.json"
    prices.write_text(json.dumps(table))
    log_dir = tmp_path / "logs"
    code, out, err = await run_cli(
        *greeted_turn(emu.endpoint, speech_wav, tmp_path),
        "--summary-json", str(summary_path), "--prices", str(prices), "--budget", "0.01",
    )  # fmt: skip
    assert code == 0, err
    cost = json.loads(summary_path.read_text())["cost"]
    done = [e["response"] for e in received(log_dir, "response.done")]
    expected = [
        sum(
            n * table["tiers"]["pro"][k]
            for k, n in TokenUsage.from_wire(r["usage"]).billed().items()
        )
        / 1000
        for r in done
    ]
    assert [r["amount"] for r in cost["responses"]] == [round(x, 6) for x in expected]
    assert cost["total"] == round(sum(expected), 6) and cost["tier"] == "pro"
    assert cost["currency"] == "EUR" and cost["budget"] == 0.01
    assert out.count("Budget reached 0.01 EUR") == 1 and "Budget at 80%" not in out
    assert out.count("Rate limit tokens low: ") == 1
    assert "EUR (estimate, pro tier, table prices)" in out
