"""The event stream: one line per event sent or received, coloured by family.

A line-API scroll view over :class:`~voicelive_tui.ui.events_model.EventBuffer`: cheap at
thousands of lines, follows the tail until the user moves up (or pauses with ``p``),
and says how many lines arrived meanwhile.

Repaint cost matters here more than anywhere: the stream can carry hundreds of events a
second. The dashboard feeds batches at most a few times a second; a batch that only
folded more audio into lines already shown repaints just those lines, and a batch that
changed nothing visible (filtered out, scrolled back, paused) repaints nothing but the
subtitle's count, and that only when its text changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from voicelive_tui.protocol import FAMILY_PREFIXES
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.events_model import MAX_ENTRIES, EventBuffer, EventEntry
from voicelive_tui.updates import EventReceived, EventSent

ARROWS = {"sent": "↑", "received": "↓"}
LINE_CACHE = 128
"""Rendered lines kept, more than a tall terminal shows: when a new line scrolls the view,
only the new one is built (the others move up unchanged)."""
FAMILIES = (*(family for family, _ in FAMILY_PREFIXES), "other")


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

    following: reactive[bool] = reactive(True, repaint=False)
    """The view sticks to the newest line."""
    paused: reactive[bool] = reactive(False, repaint=False)
    """``p``: new lines do not move the view until resumed."""
    unseen: reactive[int] = reactive(0, repaint=False)
    """Lines that arrived while not following."""

    def __init__(
        self, clock: WallClock, *, max_entries: int = MAX_ENTRIES, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.buffer = EventBuffer(max_entries=max_entries)
        self.cursor = -1
        self._subtitle = ""
        self._rendered: LRUCache[int, tuple[str, int, int, Strip]] = LRUCache(LINE_CACHE)
        """By line (entry seq): its text, scroll x and width when rendered, and the strip."""
        self._styles: dict[str, Style] = {}
        """The panel's base style ('') and its component styles, as the lines above use
        them: Textual works the base out from every ancestor on each read, and forgets the
        components on every ``refresh()`` (a folded line refreshes 4 times a second)."""

    def on_mount(self) -> None:
        self.border_title = "Events"
        self._update_subtitle()

    def watch_following(self) -> None:
        self._update_subtitle()

    def watch_paused(self) -> None:
        self._update_subtitle()

    def watch_unseen(self) -> None:
        self._update_subtitle()

    # -- feeding ----------------------------------------------------------------

    def add_events(self, updates: list[EventSent | EventReceived]) -> None:
        """Append a batch of sent and received events, repainting only what it changed."""
        change = self.buffer.add_batch(updates)
        if change.appended or change.removed:
            self._resize()
            if self.following:
                self._follow()
                self.refresh()
            else:
                self.unseen += change.appended
                # Lines dropped from the front move what the user is looking at up.
                self.cursor = max(-1, min(self.cursor - change.removed, len(self.buffer.view) - 1))
                if change.removed:
                    self.scroll_to(y=max(0, self.scroll_y - change.removed), animate=False)
                    self.refresh()
                else:
                    self._refresh_visible(change.folded)
        else:
            self._refresh_visible(change.folded)
        self._update_subtitle()

    def _refresh_visible(self, entries: list[EventEntry]) -> None:
        """Repaint the text of ``entries`` that are on screen (folded lines grew).

        Only the summary changes when a line folds in more audio, so only the cells from
        the summary on are repainted: a few dozen bytes to the terminal, not a panel.
        """
        if not entries:
            return
        top, left = self.scroll_offset.y, self.scroll_offset.x
        height = self.scrollable_content_region.height
        width = self.scrollable_content_region.width
        view = self.buffer.view
        seqs = {entry.seq for entry in entries}
        # Folded lines are near the end; search the visible window only.
        for index in range(min(len(view), top + height) - 1, top - 1, -1):
            entry = view[index]
            if entry.seq in seqs:
                x = max(0, self._summary_cell(entry) - left)
                if index == self.cursor and self.has_focus:
                    x = 0  # the cursor highlight spans the line
                if x < width:
                    self.refresh(Region(x, index - top, width - x, 1))

    def _summary_cell(self, entry: EventEntry) -> int:
        """The first cell of ``entry``'s summary (the part a fold changes)."""
        stamp = self.clock.label(entry.at, precise=True)
        return 2 + len(stamp) + 1 + len(entry.type) + 2

    def clear(self) -> None:
        """Forget every line."""
        self.buffer.clear()
        self._rendered.clear()
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
            self.refresh()
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

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if not self.paused and self.scroll_y >= self.max_scroll_y - 1:
            self._follow()

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
        lines = len(self.buffer.view)
        room = self.container_size
        scroll_bar = lines > room.height  # overflow-y: auto
        # As wide as the lines will be: beside the scroll bar when it shows.
        width = room.width - (self.styles.scrollbar_size_vertical if scroll_bar else 0)
        size = Size(max(0, width), lines)
        if size == self.virtual_size:
            return
        if (
            not self.is_mounted
            or not room
            or size.width != self.virtual_size.width
            or scroll_bar != self.show_vertical_scrollbar
        ):
            self.virtual_size = size  # the panel's room changes: the screen lays it out
            return
        # A new line changes only how far the view scrolls: the panel keeps its place, size
        # and scroll bar, so the screen needs no layout (several milliseconds at 160x48,
        # a few times a second while events stream). The scroll bar follows.
        self.set_reactive(EventLog.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _update_subtitle(self) -> None:
        if not self.is_mounted:
            return
        parts = [f"{len(self.buffer.entries)} lines"]
        if self.buffer.dropped:
            parts.append(f"{self.buffer.dropped} dropped")
        if self.buffer.needle:
            parts.append(f"filter {self.buffer.needle!r}")
        if self.paused:
            parts.append("PAUSED")
        if not self.following and self.unseen:
            parts.append(f"{self.unseen} new ↓")
        subtitle = " · ".join(parts)
        if subtitle != self._subtitle:  # setting it repaints the whole panel
            self._subtitle = self.border_subtitle = subtitle

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rendered.clear()  # the theme or focus changed the colours
        self._styles.clear()

    def _style(self, component: str = "") -> Style:
        """The base style (``''``) or a component's, kept until the styles change."""
        style = self._styles.get(component)
        if style is None:
            style = self.get_component_rich_style(component) if component else self.rich_style
            self._styles[component] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.buffer.view):
            return Strip.blank(width, self._style())
        entry = self.buffer.view[index]
        text = entry.text
        cached = self._rendered.get(entry.seq)
        if cached is not None and cached[:3] == (text, scroll_x, width):
            strip = cached[3]
        else:
            segments = self._segments(entry, text)
            strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, self._style())
            self._rendered[entry.seq] = (text, scroll_x, width, strip)
        if index == self.cursor and self.has_focus:
            strip = strip.apply_style(self._style("event-log--cursor"))
        return strip

    def _segments(self, entry: EventEntry, text: str) -> list[Segment]:
        style = self._style
        family = entry.family if entry.family in FAMILIES else "other"
        plain = Style.null()  # never None: NO_COLOR's monochrome filter reads every style
        return [
            Segment(ARROWS.get(entry.direction, "·"), style(f"event-log--{entry.direction}")),
            Segment(" ", plain),
            Segment(self.clock.label(entry.at, precise=True), style("event-log--time")),
            Segment(" ", plain),
            Segment(entry.type, style(f"event-log--{family}")),
            Segment("  ", plain),
            Segment(text, style("event-log--summary")),
        ]
