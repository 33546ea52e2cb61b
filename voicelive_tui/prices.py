"""Price tables for the cost estimate: prices per token kind and tier, and the model's tier.

Pure: :func:`parse_prices` checks a table's JSON; :mod:`voicelive_tui.config.prices_file`
reads the file. A table (the shipped one is ``prices.json`` beside this module, replaced
with ``--prices FILE``) gives its currency, the number of tokens a price is for, its date and
source, the prices of each tier (``pro``, ``standard``, ``lite``) per token kind (see
:data:`voicelive_tui.conversation.usage.KINDS`), and the model-to-tier mapping as
``[pattern, tier]`` pairs, first match wins. Voice Live bills by tier: Pro for
gpt-realtime, gpt-4o, gpt-4.1, gpt-5.x and azure-realtime; Standard for the ``-mini``
models and gpt-5.6-luna; Lite for gpt-4.1-nano, gpt-5-nano and phi4-mm-realtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["PRICED_KINDS", "TIERS", "PriceTable", "parse_prices"]

TIERS = ("pro", "standard", "lite")
PRICED_KINDS = (
    "input_text",
    "input_audio",
    "input_image",
    "input_cached",
    "output_text",
    "output_audio",
    "output_reasoning",
)


@dataclass(frozen=True)
class PriceTable:
    """Prices per ``per_tokens`` tokens, by tier and token kind, in ``currency``."""

    currency: str
    per_tokens: int
    date: str
    source: str
    placeholder: bool
    tiers: Mapping[str, Mapping[str, float]]
    models: tuple[tuple[str, str], ...]

    def tier_of(self, model: str | None) -> str | None:
        """The tier ``model`` is billed at; None for a model the mapping does not know."""
        if not model:
            return None
        name = model.lower()
        return next((tier for pattern, tier in self.models if fnmatchcase(name, pattern)), None)

    def cost(self, tokens: Mapping[str, int], tier: str) -> float:
        """The price of ``tokens`` (kind -> count) at ``tier``."""
        prices = self.tiers[tier]
        return sum(n * prices.get(kind, 0.0) for kind, n in tokens.items()) / self.per_tokens


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{what} must be a number of 0 or more, got {value!r}")
    return float(value)


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string")
    return value


def parse_prices(raw: Any, default_models: tuple[tuple[str, str], ...] = ()) -> PriceTable:
    """A price table from its JSON; ValueError with one line when it is not one.

    A table without ``models`` uses ``default_models`` (the shipped mapping); a tier it
    does not price gets no figure."""
    if not isinstance(raw, dict):
        raise ValueError("a price table is a JSON object")
    tiers = raw.get("tiers")
    if not isinstance(tiers, dict) or not tiers:
        raise ValueError("'tiers' must map tier names (pro, standard, lite) to prices")
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown:
        raise ValueError(f"unknown tier {unknown[0]!r} (tiers: {', '.join(TIERS)})")
    parsed: dict[str, dict[str, float]] = {}
    for tier, prices in tiers.items():
        if not isinstance(prices, dict):
            raise ValueError(f"tier {tier!r} must map token kinds to prices")
        bad = sorted(set(prices) - set(PRICED_KINDS))
        if bad:
            raise ValueError(f"unknown token kind {bad[0]!r} (kinds: {', '.join(PRICED_KINDS)})")
        parsed[tier] = {k: _number(v, f"{tier}.{k}") for k, v in prices.items()}
    models = default_models
    if "models" in raw:
        pairs = raw["models"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in pairs
        ):
            raise ValueError("'models' must be a list of [pattern, tier] pairs")
        models = tuple((pattern.lower(), tier) for pattern, tier in pairs)
        missing = next((tier for _p, tier in models if tier not in parsed), None)
        if missing is not None:
            raise ValueError(f"'models' names tier {missing!r}, which has no prices")
    per = raw.get("per_tokens", 1_000_000)
    if isinstance(per, bool) or not isinstance(per, int) or per < 1:
        raise ValueError(f"'per_tokens' must be a whole number of 1 or more, got {per!r}")
    placeholder = raw.get("placeholder", False)
    if not isinstance(placeholder, bool):
        raise ValueError("'placeholder' must be true or false")
    return PriceTable(
        currency=_text(raw, "currency"),
        per_tokens=per,
        date=_text(raw, "date"),
        source=_text(raw, "source"),
        placeholder=placeholder,
        tiers=parsed,
        models=models,
    )
