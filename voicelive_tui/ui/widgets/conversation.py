"""The conversation panel: one small widget per turn in a bottom-anchored scroll view."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from voicelive_tui.conversation.activity import describe, footnotes
from voicelive_tui.conversation.turns import Turn
from voicelive_tui.conversation.usage import compact
from voicelive_tui.safe_text import displayable

TimeLabel = Callable[[float], str]
"""Turns a monotonic time stamp into what the user reads (e.g. wall-clock HH:MM:SS)."""

ROLE_NAMES = {"user": "You", "agent": "Agent", "system": "·"}
MAX_TURN_VIEWS = 60
"""Turns kept on screen; older ones leave the panel (the conversation log keeps them all,
and the panel's first line says how many left)."""
MAX_SHOWN_CHARS = 8_000
"""The most of one turn's transcript on screen: its newest part. A reply is a few
thousand characters; a server that streams megabytes into one would have every frame
wrap all of it (the conversation log keeps the whole text)."""


def earlier_turns_note(count: int) -> str:
    """The panel's first line once turns have left it: where they are."""
    turns = "turn" if count == 1 else "turns"
    return f"↑ {count:,} earlier {turns}: in the conversation log (e saves all as Markdown)"


def turn_signature(turn: Turn) -> tuple[object, ...]:
    """What, if changed, needs the turn re-rendered."""
    activity = tuple(
        (e.status, len(e.arguments), e.ended_at, e.output is not None) for e in turn.activity
    )
    return (
        turn.text,
        turn.final,
        turn.interrupted,
        turn.heard_ms,
        turn.kind,
        turn.status,
        turn.latency_ms,
        turn.usage,
        turn.cut_estimated,
        activity,
        len(turn.citations),
    )


def turn_header(turn: Turn, time_label: TimeLabel) -> str:
    """'10:42:07  Agent  (interrupted at 2.4 s)' and the like."""
    parts = [time_label(turn.started_at), ROLE_NAMES.get(turn.role, turn.role)]
    if turn.role == "user" and turn.kind == "text":
        parts.append("(typed)")
    if turn.role == "agent" and turn.kind == "text":
        parts.append("(text)")
    if turn.interrupted:
        approx = ", cut estimated" if turn.cut_estimated else ""
        parts.append(f"(interrupted at {(turn.heard_ms or 0) / 1000:.1f} s{approx})")
    elif turn.role == "agent" and turn.status not in (None, "completed"):
        parts.append(f"({turn.status})")
    if turn.latency_ms is not None:
        parts.append(f"· {turn.latency_ms / 1000:.2f} s")
    if turn.usage is not None:
        parts.append(f"· {compact(turn.usage)}")
    if turn.cost is not None and turn.cost.amount is not None:
        parts.append(turn.cost.figure())
    return "  ".join(parts)


def turn_body(turn: Turn) -> str:
    """The agent's activity, then the transcript (with a marker while it is still growing or
    where it was cut) and its citations as footnotes."""
    lines = [f"⚙ {describe(entry)}" for entry in turn.activity]
    if turn.kind == "activity" and not turn.text:
        return "\n".join(lines)
    lines.append(transcript_body(turn))
    lines += footnotes(turn.citations)
    return "\n".join(lines)


def transcript_body(turn: Turn) -> str:
    """The transcript, with a marker while it is still growing or where it was cut."""
    text = turn.text
    if len(text) > MAX_SHOWN_CHARS:
        earlier = len(text) - MAX_SHOWN_CHARS
        text = f"[{earlier:,} earlier characters: see the conversation log] …" + text[earlier:]
    if not text:
        if turn.role == "user" and not turn.final:
            return "… (speaking)"
        return "…" if not turn.final else "(no transcript)"
    if turn.interrupted:
        return text + " —"
    return text if turn.final else text + " …"


class TurnView(Static):
    """One turn: a header line (time, who, marks) and the transcript."""

    def __init__(self, turn: Turn, time_label: TimeLabel) -> None:
        super().__init__(classes=f"turn -{turn.role}")
        self._time_label = time_label
        self._signature: tuple[object, ...] | None = None
        self._lines: int | None = None  # wrapped height at the last update
        self.show(turn)

    def show(self, turn: Turn) -> None:
        """Re-render when the turn changed since the last call."""
        signature = turn_signature(turn)
        if signature == self._signature:
            return
        self._signature = signature
        self.set_class(turn.interrupted, "-interrupted")
        self.set_class(not turn.final, "-partial")
        text = Text()
        text.append(turn_header(turn, self._time_label), style="bold")
        text.append("\n")
        text.append(displayable(turn_body(turn)))  # stored clean; the screen checks again
        # A reflow of the panel repaints every turn on it: only when this one's height
        # changes (a streamed word that fits on the last line repaints just this turn).
        width = self.content_size.width
        lines = len(text.wrap(self.app.console, width)) if width > 0 else None
        reflow = lines is None or lines != self._lines
        self._lines = lines
        self.update(text, layout=reflow)


class ConversationPanel(VerticalScroll):
    """The newest turns, newest at the bottom; follows new text until the user scrolls up."""

    def __init__(
        self, time_label: TimeLabel, *, max_views: int = MAX_TURN_VIEWS, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._time_label = time_label
        self._max_views = max_views
        self._views: list[TurnView] = []
        self._first = 0  # index in the turns of the turn _views[0] shows
        self._earlier: Static | None = None  # says how many turns left the panel

    def on_mount(self) -> None:
        self.border_title = "Conversation"
        self.anchor()

    def sync(self, turns: Sequence[Turn]) -> None:
        """Bring the widgets in line with ``turns`` (append-only, updates in place)."""
        start = max(0, len(turns) - self._max_views)
        if start > self._first:
            gone = self._views[: start - self._first]
            self._views = self._views[start - self._first :]
            self._first = start
            self.remove_children(gone)
            self._show_earlier()
        for view, turn in zip(self._views, turns[self._first :], strict=False):
            view.show(turn)
        shown = self._first + len(self._views)
        new = [TurnView(turn, self._time_label) for turn in turns[shown:]]
        if new:
            self._views.extend(new)
            self.mount_all(new)

    def _show_earlier(self) -> None:
        note = earlier_turns_note(self._first)
        if self._earlier is None:
            self._earlier = Static(note, classes="earlier-turns", markup=False)
            self.mount(self._earlier, before=self._views[0] if self._views else None)
        else:
            self._earlier.update(note)
