"""The cost estimate (issue 24): the shipped price table, --prices, the model's tier, cost
as tokens times the table, and the budget and rate-limit warnings given once each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.scaffold.replay import scripted_usage
from tests.unit.test_config import run_cli, settings
from tests.unit.test_conversation import agent_answer, feed, session_updated
from tests.unit.test_usage import with_usage
from voicelive_tui.config.prices_file import load_prices, shipped_prices
from voicelive_tui.conversation.alarms import LedgerAlarms
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.summary import session_summary
from voicelive_tui.conversation.usage import TokenUsage
from voicelive_tui.errors import EXIT_CONFIG
from voicelive_tui.prices import PRICED_KINDS, parse_prices

TABLE: dict[str, Any] = {
    "currency": "EUR",
    "per_tokens": 1000,
    "date": "2026-12-01",
    "source": "a test table",
    "tiers": {
        "pro": {kind: float(i + 1) for i, kind in enumerate(PRICED_KINDS)},
        "standard": {kind: 0.5 for kind in PRICED_KINDS},
    },
}


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("gpt-realtime", "pro"),
        ("gpt-realtime-2026-08-28", "pro"),
        ("gpt-4o", "pro"),
        ("gpt-4.1", "pro"),
        ("gpt-5.2", "pro"),
        ("azure-realtime", "pro"),
        ("gpt-realtime-mini", "standard"),
        ("gpt-4o-mini-realtime-preview", "standard"),
        ("GPT-4.1-MINI", "standard"),
        ("gpt-5.6-luna", "standard"),
        ("gpt-4.1-nano", "lite"),
        ("gpt-5-nano", "lite"),
        ("phi4-mm-realtime", "lite"),
        ("llama-voice", None),
        (None, None),
    ],
)
def test_the_model_tier_follows_the_documented_mapping(model: str | None, tier: str) -> None:
    assert shipped_prices().tier_of(model) == tier


def test_the_shipped_table_names_its_date_and_says_its_figures_are_placeholders() -> None:
    table = shipped_prices()
    assert table.placeholder and "PLACEHOLDERS" in table.source
    assert "azure.microsoft.com/pricing" in table.source
    assert table.date == "2026-12-05" and table.currency == "USD"
    assert set(table.tiers) == {"pro", "standard", "lite"}
    assert all(set(prices) == set(PRICED_KINDS) for prices in table.tiers.values())


def test_cost_is_the_tokens_times_the_table() -> None:
    table = parse_prices(TABLE, shipped_prices().models)
    usage = TokenUsage.from_wire(scripted_usage(2, 3))
    billed = usage.billed()
    pro = TABLE["tiers"]["pro"]
    expected = sum(billed[k] * pro[k] for k in PRICED_KINDS) / 1000
    assert table.cost(billed, "pro") == pytest.approx(expected)
    # 24 fresh text, 96 cached, 60 audio in; 3 text and 18 audio out.
    assert expected == pytest.approx((24 * 1 + 60 * 2 + 96 * 4 + 3 * 5 + 18 * 6) / 1000)

    conv = Conversation()
    conv.usage.prices = table
    feed(conv, session_updated())  # model gpt-realtime: pro
    feed(conv, with_usage(agent_answer("r1", "a1", ["So"], "So it goes"), scripted_usage(2, 3)), 1)
    estimate = conv.cost()
    assert estimate is not None and estimate.amount == pytest.approx(expected)
    assert estimate.label() == f"≈{expected:.4f} EUR (estimate, pro tier, table prices)"
    (turn,) = (t for t in conv.turns if t.role == "agent")
    assert turn.cost == estimate
    cost = session_summary(conv, budget=2.0)["cost"]
    assert cost["total"] == round(expected, 6) and cost["currency"] == "EUR"
    assert cost["estimate"] is True and cost["tier"] == "pro" and cost["budget"] == 2.0
    assert cost["prices"]["source"] == "a test table"


def test_an_unknown_model_says_so_and_gives_no_figure() -> None:
    conv = Conversation()
    conv.usage.prices = shipped_prices()
    feed(conv, [{"type": "session.created", "session": {"id": "s", "model": "llama-voice"}}])
    feed(conv, with_usage(agent_answer("r1", "a1", ["Hi"], "Hi"), scripted_usage(1, 1)), 1)
    estimate = conv.cost()
    assert estimate is not None and estimate.amount is None
    assert estimate.label() == "no cost estimate: model llama-voice has no known tier"
    assert session_summary(conv)["cost"]["total"] is None
    assert LedgerAlarms(budget=0.000001).check(conv) == []


def spend(conv: Conversation, n: int) -> None:
    feed(
        conv,
        with_usage(agent_answer(f"r{n}", f"a{n}", ["Hi"], "Hi"), scripted_usage(n, 100)),
        float(n),
    )


def test_budget_warns_once_at_80_and_once_at_100_percent() -> None:
    conv = Conversation()
    conv.usage.prices = shipped_prices()
    feed(conv, session_updated())
    spend(conv, 1)
    per_response = conv.cost()
    assert per_response is not None and per_response.amount
    alarms = LedgerAlarms(budget=per_response.amount * 4.5)
    warnings = []
    for n in range(2, 8):  # 2 responses: 44 %, ... 4: 89 %, 5: 111 %, then more
        spend(conv, n)
        warnings.append(alarms.check(conv))
        warnings.append(alarms.check(conv))  # nothing new: no repeat
    fired = [w for batch in warnings for w in batch]
    assert len(fired) == 2, fired
    assert fired[0].startswith("Budget at 80% of ") and "estimate" in fired[0]
    assert fired[1].startswith("Budget reached ") and fired[1].endswith("the session goes on")
    assert warnings.index([fired[0]]) == 4 and warnings.index([fired[1]]) == 6


def test_a_jump_past_the_whole_budget_warns_once() -> None:
    conv = Conversation()
    conv.usage.prices = shipped_prices()
    feed(conv, session_updated())
    spend(conv, 1)
    alarms = LedgerAlarms(budget=0.000001)
    assert [w.split(":")[0] for w in alarms.check(conv)] == ["Budget reached 1e-06 USD"]
    spend(conv, 2)
    assert alarms.check(conv) == []


def limits(remaining: int) -> dict[str, Any]:
    return {
        "type": "rate_limits.updated",
        "rate_limits": [
            {"name": "tokens", "limit": 1000, "remaining": remaining, "reset_seconds": 42.0}
        ],
    }


def test_a_low_rate_limit_warns_once_and_again_after_it_recovered() -> None:
    conv, alarms = Conversation(), LedgerAlarms()
    fired = []
    for remaining in (500, 120, 99, 50, 10, 900, 80, 70):
        feed(conv, [limits(remaining)])
        fired += alarms.check(conv)
    assert fired == [
        "Rate limit tokens low: 99 of 1000 left, resets in 42 s",
        "Rate limit tokens low: 80 of 1000 left, resets in 42 s",
    ]


def test_prices_file_overrides_the_table_and_keeps_the_shipped_mapping(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(TABLE))
    table = settings(["--prices", str(path)]).prices
    assert table.currency == "EUR" and table.tier_of("gpt-realtime-mini") == "standard"
    assert not table.placeholder
    conv = Conversation()
    conv.usage.prices = table
    feed(conv, [{"type": "session.created", "session": {"id": "s", "model": "gpt-5-nano"}}])
    estimate = conv.cost()
    assert estimate is not None and estimate.amount is None
    assert estimate.label() == "no cost estimate: the price table has no lite tier"
    assert settings([]).prices == shipped_prices()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not JSON"),
        ("[]", "a price table is a JSON object"),
        (json.dumps({**TABLE, "tiers": {"gold": {}}}), "unknown tier 'gold'"),
        (
            json.dumps({**TABLE, "tiers": {"pro": {"input_text": -1}}}),
            "pro.input_text must be a number of 0 or more, got -1",
        ),
        (
            json.dumps({**TABLE, "tiers": {"pro": {"video": 1}}}),
            "unknown token kind 'video'",
        ),
        (json.dumps({**TABLE, "currency": ""}), "'currency' must be a non-empty string"),
        (json.dumps({**TABLE, "models": [["gpt-*", "lite"]]}), "names tier 'lite'"),
    ],
)
def test_a_bad_prices_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    code, err = run_cli(capsys, "--prices", str(path))
    assert code == EXIT_CONFIG and len(err) == 1
    assert err[0].startswith(f"voicelive-tui: error: cannot use --prices: {path}")
    assert message in err[0]


def test_missing_prices_file_and_bad_budget_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = run_cli(capsys, "--prices", str(tmp_path / "none.json"))
    assert code == EXIT_CONFIG and len(err) == 1 and "cannot read" in err[0]
    code, err = run_cli(capsys, "--budget", "0")
    assert code == EXIT_CONFIG and err == [
        "voicelive-tui: error: --budget must be more than 0, got 0"
    ]
    with pytest.raises(ValueError, match="cannot read"):
        load_prices(tmp_path)
