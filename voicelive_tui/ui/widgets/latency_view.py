"""The latency view (``l``): p50 / p90 / p95 / p99 / max of each kind and stage, the worst
turn explained, and every turn as a stacked bar by stage.

:func:`latency_lines` is pure (turns and a width in, Rich text out), so it is tested and
snapshotted without a terminal; :class:`LatencyScreen` shows it as a report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.binding import Binding

from voicelive_tui.conversation.latency import (
    STAGES,
    TYPED_STAGE,
    LatencyLog,
    TurnTiming,
    spread,
)
from voicelive_tui.ui.widgets.report import ReportScreen

STAGE_STYLES = {
    STAGES[0]: "yellow",
    STAGES[1]: "magenta",
    STAGES[2]: "cyan",
    STAGES[3]: "green",
    TYPED_STAGE: "blue",
}
LABEL_WIDTH = 16  # "#12 voice 1.23 s"
EMPTY = "No turn timed yet: speak or type to the agent, and each turn shows here."


def seconds(ms: float | None) -> str:
    return "  –   " if ms is None else f"{ms / 1000:5.2f}s"


def bar(turn: TurnTiming, width: int, scale_ms: float) -> Text:
    """The turn's stages as one bar, ``width`` cells for ``scale_ms``."""
    out = Text()
    used = 0
    for name, ms in turn.stages():
        cells = max(1, round(ms / scale_ms * width)) if ms > 0 else 0
        cells = min(cells, width - used)
        out.append("█" * cells, style=STAGE_STYLES.get(name, "white"))
        used += cells
    return out


NARROW = ("p50_ms", "p90_ms", "max_ms")
"""The figures a view under 80 columns keeps (p95 and p99 need the width)."""


def spread_text(label: str, values: list[float], width: int) -> Text:
    """``label  p50 0.95s  p90 1.90s  p95 …  p99 …  max …`` (fewer when narrow)."""
    out = Text(label.ljust(LABEL_WIDTH + 4), style="bold")
    for key, value in spread(values).items():
        if width >= 80 or key in NARROW:
            out.append(f"{key.removesuffix('_ms')}{seconds(value)} ")
    return out


def latency_lines(turns: Sequence[TurnTiming], width: int) -> list[Text]:
    """The view's lines at ``width`` columns: the spread of each kind and stage, the
    worst turn explained, one bar per turn, a legend."""
    if not turns:
        return [Text(EMPTY, style="dim")]
    log = LatencyLog(list(turns))
    lines = []
    for kind in ("voice", "typed"):
        totals = log.totals(kind)
        if not totals:
            continue
        count = Text(f"{len(totals)} turn{'s' if len(totals) != 1 else ''}", style="dim")
        lines.append(Text.assemble(spread_text(kind, totals, width), count))
        if kind == "voice":
            for name, values in log.stage_values(kind).items():
                line = spread_text(f" {name}", values, width)
                line.stylize(STAGE_STYLES.get(name, ""), 0, LABEL_WIDTH + 4)
                lines.append(line)
        worst = log.worst(kind)
        if worst is not None:
            number, turn = worst
            lines.append(Text.assemble((f" worst #{number}: ", "bold"), turn.explain()))
    lines.append(Text(""))
    spans = [sum(ms for _n, ms in t.stages()) for t in turns]
    scale = max(spans + [1.0])
    bar_width = max(10, width - LABEL_WIDTH - 2)
    for number, (turn, span) in enumerate(zip(turns, spans, strict=True), start=1):
        total = turn.total_ms
        label = Text(f"#{number:<3}{'typed' if turn.kind == 'typed' else 'voice'} ")
        label.append(seconds(total if total is not None else span))
        if turn.estimated:
            label.append("~", style="dim")
        label.pad_right(LABEL_WIDTH - label.cell_len)
        row = Text.assemble(label, "  ", bar(turn, bar_width, scale))
        if turn.waits:
            row.append(f" +{turn.approval_wait_ms / 1000:.1f}s approval", style="dim")
        if turn.device_switched:
            row.append(" ⇄ device switched", style="dim")
        lines.append(row)
    lines.append(Text(""))
    legend = Text()
    for name, style in STAGE_STYLES.items():
        if legend.cell_len + len(name) + 5 > width:
            lines.append(legend)
            legend = Text()
        legend.append("█ ", style=style)
        legend.append(f"{name}   ")
    lines.append(legend)
    lines.append(Text("~ the end of speech was estimated from speech_stopped", style="dim"))
    lines.append(
        Text("a wait for your approval is shown apart, not counted in the turn", style="dim")
    )
    return lines


class LatencyScreen(ReportScreen):
    """Every turn's latency by stage; Esc, q or l closes it."""

    BINDINGS = [Binding("escape,q,l", "dismiss", "Close")]

    def __init__(self, turns: Callable[[], Sequence[TurnTiming]]) -> None:
        super().__init__("latency", "Latency by stage", lambda width: latency_lines(turns(), width))
