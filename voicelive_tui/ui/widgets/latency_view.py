"""The latency view (``l``): every turn as a stacked bar by stage, with p50 / p90.

:func:`latency_lines` is pure (turns and a width in, Rich text out), so it is tested and
snapshotted without a terminal; :class:`LatencyScreen` shows it and redraws when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from voicelive_tui.conversation.latency import (
    STAGES,
    TYPED_STAGE,
    LatencyLog,
    TurnTiming,
    percentile,
)

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


def latency_lines(turns: Sequence[TurnTiming], width: int) -> list[Text]:
    """The view's lines at ``width`` columns: a header, one bar per turn, a legend."""
    if not turns:
        return [Text(EMPTY, style="dim")]
    log = LatencyLog(list(turns))
    lines = []
    for kind in ("voice", "typed"):
        totals = log.totals(kind)
        if totals:
            lines.append(
                Text.assemble(
                    (f"{kind:<6}", "bold"),
                    f"p50 {seconds(percentile(totals, 50))}  ",
                    f"p90 {seconds(percentile(totals, 90))}  ",
                    (f"{len(totals)} turn{'s' if len(totals) != 1 else ''}", "dim"),
                )
            )
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
        lines.append(Text.assemble(label, "  ", bar(turn, bar_width, scale)))
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
    return lines


class LatencyScreen(ModalScreen[None]):
    """Every turn's latency by stage; Esc, q or l closes it."""

    BINDINGS = [Binding("escape,q,l", "dismiss", "Close")]

    def __init__(self, turns: Callable[[], Sequence[TurnTiming]]) -> None:
        super().__init__()
        self._turns = turns

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="latency-body") as body:
            body.border_title = "Latency by stage"
            body.border_subtitle = "Esc to close"
            yield Static(id="latency-bars")

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        width = max(40, self.query_one("#latency-body").size.width - 4)
        text = Text("\n").join(latency_lines(self._turns(), width))
        self.query_one("#latency-bars", Static).update(text)
