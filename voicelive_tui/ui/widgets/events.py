"""The event stream: one line per event sent or received, coloured by family.

A line-API scroll view over :class:`~voicelive_tui.ui.events_model.EventBuffer`: cheap at
thousands of lines, follows the tail until the user moves up (or pauses with ``p``),
and says how many lines arrived meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.events_model import MAX_ENTRIES, EventBuffer, EventEntry

ARROWS = {"sent": "↑", "received": "↓"}
FAMILIES = ("session", "input", "audio", "response", "conversation", "error", "other")


class EventLog(ScrollView, can_focus=True):
    """The bounded, filterable, folding event list."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False),
        Binding("home", "cursor_home", "First", show=False),
        Binding("end", "cursor_end", "Last (follow)", show=False),
        Binding("enter", "open", "Event JSON"),
    ]

    COMPONENT_CLASSES = {
        "event-log--time",
        "event-log--sent",
        "event-log--received",
        "event-log--summary",
        "event-log--cursor",
        *(f"event-log--{family}" for family in FAMILIES),
    }

    class Selected(Message):
        """Enter on a line: show its event."""

        def __init__(self, entry: EventEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(
        self, clock: WallClock, *, max_entries: int = MAX_ENTRIES, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.buffer = EventBuffer(max_entries=max_entries)
        self.cursor = -1
        self.following = True
        self.paused = False
        self.unseen = 0

    def on_mount(self) -> None:
        self.border_title = "Events"
        self._update_subtitle()

    # -- feeding ----------------------------------------------------------------

    def add_events(self, updates: list[tuple[str, Mapping[str, Any], float]]) -> None:
        """Append a batch of (direction, event, at); one repaint for the whole batch."""
        before = self.buffer.view[-1] if self.buffer.view else None
        shown = len(self.buffer.view)
        for direction, event, at in updates:
            self.buffer.add(direction, event, at)
        grown = len(self.buffer.view) - shown
        if self.buffer.view and self.buffer.view[-1] is not before:
            grown = max(grown, 1)
        if not self.following:
            self.unseen += max(0, grown)
            # Lines dropped from the front move what the user is looking at up.
            self.cursor = min(self.cursor, len(self.buffer.view) - 1)
        self._resize()
        if self.following:
            self._follow()
        self.refresh()
        self._update_subtitle()

    def clear(self) -> None:
        """Forget every line."""
        self.buffer.clear()
        self.cursor = -1
        self.unseen = 0
        self._resize()
        self.refresh()
        self._update_subtitle()

    def set_filter(self, needle: str) -> None:
        """Show only lines whose type starts with, or whose text contains, ``needle``."""
        self.buffer.set_filter(needle)
        self._resize()
        self.cursor = len(self.buffer.view) - 1
        if self.following:
            self._follow()
        else:
            self._show_cursor()
        self.refresh()
        self._update_subtitle()

    def toggle_pause(self) -> bool:
        """Stop or resume following new lines; returns True when paused."""
        self.paused = not self.paused
        if self.paused:
            self.following = False
        else:
            self._follow()
        self._update_subtitle()
        return self.paused

    # -- cursor -----------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self._move_to((self.cursor if self.cursor >= 0 else len(self.buffer.view)) + delta)

    def action_cursor_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_cursor_home(self) -> None:
        self._move_to(0)

    def action_cursor_end(self) -> None:
        self._move_to(len(self.buffer.view) - 1)

    def action_open(self) -> None:
        if 0 <= self.cursor < len(self.buffer.view):
            self.post_message(self.Selected(self.buffer.view[self.cursor]))

    def _move_to(self, index: int) -> None:
        last = len(self.buffer.view) - 1
        self.cursor = max(0, min(last, index)) if last >= 0 else -1
        at_end = self.cursor == last
        if at_end and not self.paused:
            self._follow()
        else:
            self.following = False
            self._show_cursor()
        self.refresh()
        self._update_subtitle()

    def _show_cursor(self) -> None:
        if self.cursor >= 0:
            self.scroll_to_region(
                Region(0, self.cursor, self.size.width, 1),
                animate=False,
                immediate=True,
            )

    def _follow(self) -> None:
        self.following = True
        self.unseen = 0
        self.cursor = len(self.buffer.view) - 1
        self.scroll_end(animate=False, immediate=True)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.following = False
        self._update_subtitle()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if not self.paused and self.scroll_y >= self.max_scroll_y - 1:
            self._follow()
            self._update_subtitle()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._resize()
        if self.following:
            self._follow()

    # -- rendering --------------------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.buffer.view))

    def _update_subtitle(self) -> None:
        parts = [f"{len(self.buffer.entries)} lines"]
        if self.buffer.dropped:
            parts.append(f"{self.buffer.dropped} dropped")
        if self.buffer.needle:
            parts.append(f"filter {self.buffer.needle!r}")
        if self.paused:
            parts.append("PAUSED")
        if not self.following and self.unseen:
            parts.append(f"{self.unseen} new ↓")
        self.border_subtitle = " · ".join(parts)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.buffer.view):
            return Strip.blank(width, base)
        entry = self.buffer.view[index]
        segments = self._segments(entry)
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        if index == self.cursor and self.has_focus:
            strip = strip.apply_style(self.get_component_rich_style("event-log--cursor"))
        return strip

    def _segments(self, entry: EventEntry) -> list[Segment]:
        style = self.get_component_rich_style
        family = entry.family if entry.family in FAMILIES else "other"
        plain = Style.null()  # never None: NO_COLOR's monochrome filter reads every style
        return [
            Segment(ARROWS.get(entry.direction, "·"), style(f"event-log--{entry.direction}")),
            Segment(" ", plain),
            Segment(self.clock.label(entry.at, precise=True), style("event-log--time")),
            Segment(" ", plain),
            Segment(entry.type, style(f"event-log--{family}")),
            Segment("  ", plain),
            Segment(entry.text, style("event-log--summary")),
        ]

    def entry_style(self, entry: EventEntry) -> Style:
        """The family colour of ``entry`` (used by the JSON view's title)."""
        return self.get_component_rich_style(f"event-log--{entry.family}")
