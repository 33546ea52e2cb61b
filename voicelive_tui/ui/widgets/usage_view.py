"""The usage view (``u``): the session's tokens and cost estimate, each agent turn's, audio
tokens per second, and the rate limits' headroom.

:func:`usage_lines` is pure (the conversation and a width in, Rich text out), so it is
tested and snapshotted without a terminal; :class:`UsageScreen` shows it as a report.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding

from voicelive_tui.conversation.alarms import is_low
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.usage import TokenUsage, compact
from voicelive_tui.protocol import pcm_ms
from voicelive_tui.ui.view import token_count
from voicelive_tui.ui.widgets.report import ReportScreen

EMPTY = "No usage yet: the service reports each response's tokens when it is done."
COLUMNS: tuple[tuple[str, Callable[[TokenUsage], int]], ...] = (
    ("in", lambda u: u.input_tokens),
    ("cached", lambda u: u.input_cached),
    ("out", lambda u: u.output_tokens),
    ("audio in", lambda u: u.input_audio),
    ("audio out", lambda u: u.output_audio),
    ("text in", lambda u: u.input_text),
    ("text out", lambda u: u.output_text),
    ("reasoning", lambda u: u.output_reasoning),
)
"""The table's columns, most important first: a narrow view drops from the right."""
CELL = 10
LABEL = 5  # "#12 "
COST_CELL = 10
LOW = "bold red"


def limit_lines(conv: Conversation) -> list[Text]:
    """Each rate limit's headroom and reset, from the newest ``rate_limits.updated``."""
    activity = conv.activity
    lines: list[Text] = []
    for name, (remaining, limit) in activity.rate_limits.items():
        share = remaining / limit if limit > 0 else 0.0
        reset = activity.rate_limit_resets.get(name)
        text = Text.assemble(
            ("limits  " if not lines else "        ", "bold"),
            (
                f"{name} {remaining}/{limit} left ({share:.1%})",
                "red" if is_low(remaining, limit) else "",
            ),
        )
        if reset is not None:
            text.append(f", resets in {reset:.0f} s", style="dim")
        lines.append(text)
    return lines


def per_second(tokens: int, ms: float) -> str:
    return "–" if ms <= 0 else f"{tokens / (ms / 1000):.1f} tok/s"


def usage_lines(conv: Conversation, width: int) -> list[Text]:
    """The view's lines at ``width`` columns: the session, then a row per agent turn."""
    ledger = conv.usage
    if not ledger.responses:
        return [Text(EMPTY, style="dim")]
    total = ledger.total
    sent_ms, heard_ms = pcm_ms(conv.audio_in_bytes), pcm_ms(conv.audio_out_bytes)
    n = len(ledger.responses)
    lines = [
        Text.assemble(
            ("session ", "bold"),
            f"{total.total_tokens} tokens: {compact(total)}",
            (f"  {n} response{'s' if n != 1 else ''}", "dim"),
        ),
        Text.assemble(
            ("audio   ", "bold"),
            f"in {per_second(total.input_audio, sent_ms)} of {sent_ms / 1000:.1f} s  ",
            f"out {per_second(total.output_audio, heard_ms)} of {heard_ms / 1000:.1f} s",
        ),
    ]
    cost = conv.cost()
    if cost is not None:
        lines.append(Text.assemble(("cost    ", "bold"), cost.label()))
        prices = conv.usage.prices
        if prices is not None and prices.placeholder:
            note = f"prices of {prices.date}: placeholders (see --prices)"
        elif prices is not None:
            note = f"prices of {prices.date}: {prices.source}"
        if prices is not None:
            lines.append(Text(f"        {note}", style="dim"))
    lines += limit_lines(conv)
    lines.append(Text(""))
    priced = cost is not None and cost.amount is not None
    shown = COLUMNS[: max(3, (width - LABEL - (COST_CELL if priced else 0)) // CELL)]
    header = Text("#".ljust(LABEL), style="bold")
    for name, _value in shown:
        header.append(name.rjust(CELL), style="bold")
    with_cost = priced and width - header.cell_len >= COST_CELL
    if with_cost:
        header.append("cost".rjust(COST_CELL), style="bold")
    lines.append(header)
    number = 0
    for turn in conv.turns:
        if turn.role != "agent" or turn.usage is None:
            continue
        number += 1
        row = Text(f"#{number}".ljust(LABEL))
        for _name, value in shown:
            row.append(token_count(value(turn.usage)).rjust(CELL))
        if with_cost and turn.cost is not None and turn.cost.amount is not None:
            row.append(f"{turn.cost.amount:.4f}".rjust(COST_CELL))
        if turn.interrupted:
            row.append(" cut", style="dim")
        lines.append(row)
    footer = Text("Σ".ljust(LABEL), style="bold")
    for _name, value in shown:
        footer.append(token_count(value(total)).rjust(CELL), style="bold")
    if with_cost and cost is not None and cost.amount is not None:
        footer.append(f"{cost.amount:.4f}".rjust(COST_CELL), style="bold")
    lines.append(footer)
    if len(shown) < len(COLUMNS):
        hidden = ", ".join(name for name, _v in COLUMNS[len(shown) :])
        lines.append(Text(f"wider for: {hidden}", style="dim"))
    return lines


class UsageScreen(ReportScreen):
    """The session's token usage; Esc, q or u closes it."""

    BINDINGS = [Binding("escape,q,u", "dismiss", "Close")]

    def __init__(self, conversation: Callable[[], Conversation | None]) -> None:
        def lines(width: int) -> list[Text]:
            conv = conversation()
            return usage_lines(conv, width) if conv is not None else [Text(EMPTY, style="dim")]

        super().__init__("usage", "Token usage", lines)
