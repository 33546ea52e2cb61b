"""Warnings the operator gets once, ahead of trouble: the budget and the rate limits.

Pure: :meth:`LedgerAlarms.check` looks at the conversation after an event and returns the
warnings to give now; each fires once (a rate limit again only after it recovered). The
dialogue turns them into notices (a toast in the dashboard, a line in console mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicelive_tui.conversation.reducer import Conversation

BUDGET_STEPS = (0.8, 1.0)
"""Shares of ``--budget`` at which the estimated cost warns, once each."""
LOW_LIMIT = 0.1
"""A rate limit warns once less than this share of it is left."""


def is_low(remaining: int, limit: int) -> bool:
    """Less than :data:`LOW_LIMIT` of a rate limit is left."""
    return limit > 0 and remaining < limit * LOW_LIMIT


@dataclass
class LedgerAlarms:
    """The warnings given so far, so that each is given once."""

    budget: float | None = None
    _budget_warned: set[float] = field(default_factory=set)
    _low_limits: set[str] = field(default_factory=set)

    def check(self, conv: Conversation) -> list[str]:
        """The warnings due now (an empty list almost always)."""
        return self._budget(conv) + self._limits(conv)

    def _budget(self, conv: Conversation) -> list[str]:
        if self.budget is None:
            return []
        cost = conv.cost()
        if cost is None or cost.amount is None:
            return []
        reached = [s for s in BUDGET_STEPS if cost.amount >= s * self.budget]
        if not reached or max(reached) in self._budget_warned:
            return []
        self._budget_warned.update(reached)  # a jump past both warns once, at the higher
        share = max(reached)
        what = "reached" if share >= 1.0 else f"at {share:.0%} of"
        return [
            f"Budget {what} {self.budget:g} {cost.currency}: {cost.label()}"
            + ("; the session goes on" if share >= 1.0 else "")
        ]

    def _limits(self, conv: Conversation) -> list[str]:
        out = []
        for name, (remaining, limit) in conv.activity.rate_limits.items():
            low = is_low(remaining, limit)
            if low and name not in self._low_limits:
                reset = conv.activity.rate_limit_resets.get(name)
                when = f", resets in {reset:.0f} s" if reset is not None else ""
                out.append(f"Rate limit {name} low: {remaining} of {limit} left{when}")
                self._low_limits.add(name)
            elif not low:
                self._low_limits.discard(name)
        return out
