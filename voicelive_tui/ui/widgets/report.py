"""A modal report over the dashboard: lines of Rich text, redrawn each second, Esc closes.

The latency view (``l``) and the usage view (``u``) are reports: each gives a pure
function of the width that returns its lines, so both are tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Lines = Callable[[int], list[Text]]
"""The report's lines at a width in cells."""


class ReportScreen(ModalScreen[None]):
    """A titled, scrolling report; Esc, q or its own key closes it."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, name: str, title: str, lines: Lines, *, every_s: float = 1.0) -> None:
        super().__init__()
        self._name = name
        self._title = title
        self._lines = lines
        self._every_s = every_s
        self._drawn: Text | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id=f"{self._name}-body", classes="report-body") as body:
            body.border_title = self._title
            body.border_subtitle = "Esc to close"
            yield Static(id=f"{self._name}-lines")

    def on_mount(self) -> None:
        self.redraw()
        self.call_after_refresh(self.redraw)  # again once the body's width is laid out
        self.set_interval(self._every_s, self.redraw)

    @property
    def drawn(self) -> Text | None:
        """What the report shows now."""
        return self._drawn

    def redraw(self) -> None:
        width = max(40, self.query_one(f"#{self._name}-body").size.width - 4)
        text = Text("\n").join(self._lines(width))
        if text == self._drawn:
            return  # the same picture: no layout, no repaint
        self._drawn = text
        self.query_one(f"#{self._name}-lines", Static).update(text)
