"""The timeline view (``g``): the last 30 s (60 s when wide) as lanes on one time axis.

Lanes: the microphone's level, the audio sent, the server's VAD (speech, ``│`` committed),
the user's turns with why each ended, the agent's audio as heard (``✂`` where a barge-in
cut it, ``×`` a cancelled response), tool calls. Below, the last turns in words.

:func:`timeline_lines` is pure (the conversation, a time and a width in, Rich text out); the
screen redraws it a few times a second, only while it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.text import Text

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.timeline import Span, Timeline
from voicelive_tui.safe_text import displayable
from voicelive_tui.ui.widgets.report import ReportScreen

LABEL = 6
"""Cells of the lane names ("agent ")."""
WIDE = 120
"""From this width the view spans WIDE_WINDOW_S, else WINDOW_S."""
WINDOW_S = 30.0
WIDE_WINDOW_S = 60.0
REDRAW_S = 0.25
BLOCKS = "▁▂▃▄▅▆▇█"
LEGEND = "│ committed  ✂ cut by a barge-in (s heard)  × cancelled  ◆ tool call  ⟨why it ended⟩"
MicLevels = Sequence[tuple[float, float]]
"""(time, level 0..1) readings of the microphone, oldest first."""


def window_s(width: int) -> float:
    """How many seconds the view spans at ``width`` cells."""
    return WIDE_WINDOW_S if width >= WIDE else WINDOW_S


class Row:
    """One lane's cells: a character and a style each."""

    def __init__(self, cells: int) -> None:
        self.chars = [" "] * cells
        self.styles = [""] * cells

    def put(self, col: int, char: str, style: str) -> None:
        if 0 <= col < len(self.chars):
            self.chars[col], self.styles[col] = char, style

    def fill(self, start: int, end: int, char: str, style: str) -> None:
        for col in range(max(0, start), min(len(self.chars), end)):
            self.put(col, char, style)

    def write(self, col: int, text: str, style: str, limit: int) -> None:
        """``text`` from ``col``, never past ``limit`` (exclusive)."""
        for i, char in enumerate(text):
            if col + i >= min(limit, len(self.chars)):
                return
            self.put(col + i, char, style)

    def text(self, label: str) -> Text:
        out = Text(f"{label:<{LABEL}}", style="bold")
        run_start = 0
        for at in range(1, len(self.chars) + 1):  # one append per run of a style
            if at == len(self.chars) or self.styles[at] != self.styles[run_start]:
                out.append("".join(self.chars[run_start:at]), self.styles[run_start])
                run_start = at
        return out


def right_edge(now: float, width: int) -> float:
    """The time at the view's right edge: ``now``, moved on a whole column at a time, so
    that between two steps the picture is the same and the screen skips redrawing it."""
    step = window_s(width) / max(10, width - LABEL)
    return math.ceil(now / step) * step


def timeline_lines(
    conv: Conversation, now: float, width: int, mic: MicLevels | None = None
) -> list[Text]:
    """The view's lines at ``width`` cells, ``now`` at the right edge."""
    plot = max(10, width - LABEL)
    span_s = window_s(width)
    now = right_edge(now, width)
    start = now - span_s

    def col(t: float) -> int:
        return int((t - start) / span_s * plot)

    tl = conv.timeline
    lines = [
        _mic_row(mic, plot, col).text("mic"),
        _spans(tl.sent, plot, col, now, "─", "cyan").text("sent"),
        _vad_row(tl, plot, col, now).text("vad"),
        _user_row(tl, plot, col, now).text("you"),
        _agent_row(tl, plot, col, now).text("agent"),
        _tools_row(conv, tl, plot, col, now).text("tools"),
        _axis(plot, span_s),
    ]
    lines.extend(_recent_turns(tl, now, width))
    return lines


def _mic_row(mic: MicLevels | None, plot: int, col: Callable[[float], int]) -> Row:
    row = Row(plot)
    if mic is None:
        row.write(0, "levels are shown live only", "dim", plot)
        return row
    peaks: dict[int, float] = {}
    for at, level in mic:
        c = col(at)
        if 0 <= c < plot:
            peaks[c] = max(peaks.get(c, 0.0), level)
    for c, level in peaks.items():
        if level >= 0.05:
            row.put(c, BLOCKS[min(len(BLOCKS) - 1, int(level * len(BLOCKS)))], "green")
    return row


def _spans(
    spans: Sequence[Span], plot: int, col: Callable[[float], int], now: float, char: str, style: str
) -> Row:
    row = Row(plot)
    for span in spans:
        end = now if span.end is None else span.end
        row.fill(col(span.start), max(col(end), col(span.start) + 1), char, style)
    return row


def _vad_row(tl: Timeline, plot: int, col: Callable[[float], int], now: float) -> Row:
    row = _spans(tl.vad, plot, col, now, "█", "yellow")
    for mark in tl.marks:
        if mark.lane == "vad":
            row.put(col(mark.at), mark.glyph, "bold")
    return row


def _user_row(tl: Timeline, plot: int, col: Callable[[float], int], now: float) -> Row:
    row = Row(plot)
    turns = list(tl.user)
    for i, turn in enumerate(turns):
        first = col(turn.start)
        last = max(col(now if turn.end is None else turn.end), first + 1)
        row.fill(first, last, " ", "on dark_green")
        limit = col(turns[i + 1].start) - 1 if i + 1 < len(turns) else plot
        label = displayable(turn.text, one_line=True) or "…"
        if turn.why:
            label = f"{label} ⟨{turn.why}⟩"
        for at, char in enumerate(label, start=max(0, first)):
            if at >= limit:
                break
            row.put(at, char, "bold white on dark_green" if at < last else "green")
    return row


def _agent_row(tl: Timeline, plot: int, col: Callable[[float], int], now: float) -> Row:
    row = Row(plot)
    cuts = []
    for span in tl.agent:
        end = min(now, tl.agent_end(span))
        first, last = col(span.start), max(col(end), col(span.start) + 1)
        row.fill(first, last, "▒", "magenta")
        if span.cut_ms is not None:
            row.put(max(first, col(end)), "✂", "bold red")
            cuts.append((max(first, col(end)) + 1, f"{span.cut_ms / 1000:.1f}s"))
    for at, label in cuts:  # where nothing else is drawn (a cut off the left edge: nowhere)
        cells = range(max(0, at), min(plot, at + len(label)))
        blank = next((c for c in cells if row.chars[c] != " "), None)
        row.write(at, label, "red", plot if blank is None else blank)
    for mark in tl.marks:
        if mark.lane == "agent":
            row.put(col(mark.at), mark.glyph, "bold red")
    return row


def _tools_row(
    conv: Conversation, tl: Timeline, plot: int, col: Callable[[float], int], now: float
) -> Row:
    row = Row(plot)
    for entry in conv.activity.entries.values():
        if entry.kind == "approval":
            continue
        first = col(entry.started_at)
        last = max(col(now if entry.ended_at is None else entry.ended_at), first + 1)
        row.fill(first, last, "━", "blue")
        row.write(first, displayable(entry.name, one_line=True), "bold blue", last + 12)
    for mark in tl.marks:
        if mark.lane == "tools":
            row.put(col(mark.at), mark.glyph, "bold blue")
    return row


def _axis(plot: int, span_s: float) -> Text:
    step = 5 if span_s <= WINDOW_S else 10
    row = Row(plot)
    row.fill(0, plot, "─", "dim")
    for ago in range(int(span_s), 0, -step):
        c = int((span_s - ago) / span_s * plot)
        row.put(c, "┴", "dim")
        row.write(c + 1, f"-{ago}s", "dim", plot)
    row.write(plot - 3, "now", "bold", plot)
    return row.text("")


def _recent_turns(tl: Timeline, now: float, width: int, count: int = 4) -> list[Text]:
    lines = [Text("")]
    for turn in list(tl.user)[-count:]:
        ago = now - turn.start
        why = turn.why or ("speaking…" if turn.end is None else "")
        text = Text.assemble(
            (f"{-ago:5.0f} s ", "dim"),
            ("you ", "bold green"),
            (f"⟨{why}⟩ ", "yellow"),
            displayable(turn.text, one_line=True),
        )
        text.truncate(width, overflow="ellipsis")
        lines.append(text)
    if len(lines) == 1:
        lines.append(Text("No turn yet: speak, type (t) or push to talk (`).", style="dim"))
    lines.append(Text(LEGEND, style="dim"))
    return lines


class TimelineScreen(ReportScreen):
    """The timeline as a report redrawn REDRAW_S apart (only while shown)."""

    def __init__(
        self,
        conversation: Callable[[], Conversation | None],
        now: Callable[[], float],
        mic: Callable[[], MicLevels | None],
    ) -> None:
        def lines(width: int) -> list[Text]:
            conv = conversation()
            if conv is None:
                return [Text("No session yet.", style="dim")]
            return timeline_lines(conv, now(), width, mic())

        super().__init__("timeline", "Timeline: why each turn ended", lines, every_s=REDRAW_S)
