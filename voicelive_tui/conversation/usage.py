"""Token usage per response, per turn and per session, from ``response.done``.

``response.done`` carries ``response.usage``: ``input_tokens`` and ``output_tokens`` with
their details (text, audio, image and cached input; text, audio and reasoning output).
Pure: :class:`UsageLedger` takes the events' dicts and keeps every response's usage in
order; the views, the console, ``--summary-json`` and the Markdown export read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from voicelive_tui.prices import PriceTable

__all__ = ["CostEstimate", "ResponseUsage", "TokenUsage", "UsageLedger", "compact"]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class TokenUsage:
    """One response's tokens (or a sum of them), by kind."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    input_cached: int = 0
    input_cached_text: int = 0
    input_cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0
    output_reasoning: int = 0

    @classmethod
    def from_wire(cls, usage: Any) -> TokenUsage:
        """``response.usage`` as on the wire; a missing or malformed field counts 0."""
        usage = _obj(usage)
        into = _obj(usage.get("input_token_details"))
        cached = _obj(into.get("cached_tokens_details"))
        out = _obj(usage.get("output_token_details"))
        return cls(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            input_text=_count(into.get("text_tokens")),
            input_audio=_count(into.get("audio_tokens")),
            input_image=_count(into.get("image_tokens")),
            input_cached=_count(into.get("cached_tokens")),
            input_cached_text=_count(cached.get("text_tokens")),
            input_cached_audio=_count(cached.get("audio_tokens")),
            output_text=_count(out.get("text_tokens")),
            output_audio=_count(out.get("audio_tokens")),
            output_reasoning=_count(out.get("reasoning_tokens")),
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def billed(self) -> dict[str, int]:
        """Tokens by price kind (``prices.PRICED_KINDS``): cached input apart from fresh input.

        The wire counts cached tokens inside the text and audio input; when the details
        say which, each is taken from its own kind, otherwise from text first."""
        cached_text = self.input_cached_text
        cached_audio = self.input_cached_audio
        if cached_text + cached_audio < self.input_cached:
            rest = self.input_cached - cached_text - cached_audio
            extra_text = min(rest, self.input_text - cached_text)
            cached_text += max(0, extra_text)
            cached_audio += max(0, rest - max(0, extra_text))
        return {
            "input_text": max(0, self.input_text - cached_text),
            "input_audio": max(0, self.input_audio - cached_audio),
            "input_image": self.input_image,
            "input_cached": self.input_cached,
            "output_text": self.output_text,
            "output_audio": self.output_audio,
            "output_reasoning": self.output_reasoning,
        }

    def as_json(self) -> dict[str, int]:
        """The shape ``--summary-json`` writes (see the README)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "input_text_tokens": self.input_text,
            "input_audio_tokens": self.input_audio,
            "input_image_tokens": self.input_image,
            "input_cached_tokens": self.input_cached,
            "output_text_tokens": self.output_text,
            "output_audio_tokens": self.output_audio,
            "output_reasoning_tokens": self.output_reasoning,
        }


def compact(usage: TokenUsage) -> str:
    """A few characters for a turn: ``812 in (64 cached) / 95 out tok``."""
    cached = f" ({usage.input_cached} cached)" if usage.input_cached else ""
    return f"{usage.input_tokens} in{cached} / {usage.output_tokens} out tok"


@dataclass(frozen=True)
class ResponseUsage:
    """One ``response.done``'s usage and what it belongs to."""

    response_id: str | None
    item_id: str | None
    """The agent message the response spoke (None: tool calls only, or no words)."""
    status: str | None
    usage: TokenUsage
    at: float


@dataclass(frozen=True)
class CostEstimate:
    """What some tokens cost by a price table, or why there is no figure."""

    amount: float | None
    """None: the model's tier is unknown, so no figure is given."""
    currency: str
    tier: str | None
    model: str | None
    placeholder: bool
    """The table's figures are placeholders, not the service's prices."""

    def figure(self) -> str:
        """``≈0.0123 USD``, or ``no estimate`` when the tier is unknown."""
        if self.amount is None:
            return "no estimate"
        return f"≈{self.amount:.4f} {self.currency}"

    def label(self) -> str:
        """The figure with what it is: always an estimate, and on which prices."""
        if self.amount is None and self.tier is not None:
            return f"no cost estimate: the price table has no {self.tier} tier"
        if self.amount is None:
            return f"no cost estimate: model {self.model or '(not reported)'} has no known tier"
        prices = "placeholder prices" if self.placeholder else "table prices"
        return f"{self.figure()} (estimate, {self.tier} tier, {prices})"


@dataclass
class UsageLedger:
    """Every response's usage in order, the session's total, and what it cost."""

    responses: list[ResponseUsage] = field(default_factory=list)
    total: TokenUsage = field(default_factory=TokenUsage)
    prices: PriceTable | None = None
    """The cost estimate's table (None: no estimate is made)."""
    model: str | None = None
    """The configured model, when the session does not name one."""

    def estimate(self, usage: TokenUsage, model: str | None) -> CostEstimate | None:
        """What ``usage`` costs for ``model`` (None: no price table)."""
        if self.prices is None:
            return None
        model = model or self.model
        tier = self.prices.tier_of(model)
        priced = tier is not None and tier in self.prices.tiers
        amount = self.prices.cost(usage.billed(), tier) if priced and tier else None
        return CostEstimate(amount, self.prices.currency, tier, model, self.prices.placeholder)

    def add(self, response: dict[str, Any], now: float) -> ResponseUsage | None:
        """Account ``response.done``'s ``response``; None when it carries no usage."""
        if not isinstance(response.get("usage"), dict):
            return None
        item_id = None
        for output in response.get("output") or []:
            output = _obj(output)
            if output.get("type") == "message" and isinstance(output.get("id"), str):
                item_id = output["id"]
        rid, status = response.get("id"), response.get("status")
        entry = ResponseUsage(
            response_id=rid if isinstance(rid, str) else None,
            item_id=item_id,
            status=status if isinstance(status, str) else None,
            usage=TokenUsage.from_wire(response["usage"]),
            at=now,
        )
        self.responses.append(entry)
        self.total = self.total + entry.usage
        return entry

    def per_second(self, audio_in_ms: float, audio_out_ms: float) -> tuple[float | None, ...]:
        """Audio tokens per second of audio sent and of audio received (None: no audio)."""
        return (
            self.total.input_audio / (audio_in_ms / 1000) if audio_in_ms > 0 else None,
            self.total.output_audio / (audio_out_ms / 1000) if audio_out_ms > 0 else None,
        )
