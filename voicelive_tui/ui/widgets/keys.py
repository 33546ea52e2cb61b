"""The key bar at the bottom: the keys that work now, drawn as one line.

Textual's ``Footer`` rebuilds a widget per key on every focus change, and the old ones stay
referenced from its ``compact`` watchers until ``compact`` changes: opening and closing the
message box leaked each time. This bar is one widget that renders a line of text, keeps
the click targets of the keys it drew, and repaints only when the active keys change.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

KeySpan = tuple[int, int, str]
"""(first cell, end cell, key) of one key drawn on the bar."""
BarKey = tuple[str, str, str, bool]
"""(key, shown key, description, enabled) of one action on the bar."""

ESSENTIAL = ("help", "quit", "mute", "interrupt", "type")
"""Actions the bar always shows, most important first; the others give way (help has them)."""


def bar_keys(bindings: list[tuple[Binding, bool]], display: dict[str, str]) -> list[BarKey]:
    """(key, shown key, description, enabled) per action, in order; shown bindings only."""
    out: list[BarKey] = []
    seen: set[str] = set()
    for binding, enabled in bindings:
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        out.append(
            (binding.key, display.get(binding.key, binding.key), binding.description, enabled)
        )
    return out


def key_cells(shown: str, description: str, compact: bool) -> int:
    """The cells one key takes on the bar, its trailing gap included."""
    return cell_len(shown) + cell_len(description) + (2 if compact else 4)


def fit_keys(
    keys: list[BarKey], actions: dict[str, str], width: int, compact: bool
) -> tuple[list[BarKey], bool]:
    """The keys that fit in ``width`` cells, in bar order, and whether any were left out.

    The essential actions are placed first, in :data:`ESSENTIAL`'s order, so help and quit
    are the last to go; the other keys then fill the space left in their own order.
    """
    rank = {action: i for i, action in enumerate(ESSENTIAL)}
    order = sorted(
        range(len(keys)), key=lambda i: (rank.get(actions.get(keys[i][0], ""), len(rank)), i)
    )
    kept: set[int] = set()
    used = 0
    for i in order:
        _, shown, description, _ = keys[i]
        cells = key_cells(shown, description, compact)
        if used + cells <= width:
            kept.add(i)
            used += cells
    return [key for i, key in enumerate(keys) if i in kept], len(kept) < len(keys)


class KeyBar(Widget):
    """' m Mute  space Interrupt  t Type …  ^p palette' -- one line, clickable."""

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[BarKey] = []
        self._actions: dict[str, str] = {}  # key -> action, to rank the keys
        self._spans: list[KeySpan] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        active = screen.active_bindings
        bindings = [(b.binding, b.enabled) for b in active.values()]
        display = {b.binding.key: self.app.get_key_display(b.binding) for b in active.values()}
        keys = bar_keys(bindings, display)
        self._actions = {b.binding.key: b.binding.action for b in active.values()}
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            keys.append((palette.binding.key, display[palette.binding.key], "palette", True))
        if keys != self._keys:
            self._keys = keys
            self.refresh()

    def render(self) -> RenderResult:
        width = self.content_size.width
        compact = width < 120
        style = self.get_component_rich_style
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        self._spans = []
        keys = [k for k in self._keys if not (compact and k[0] == self.app.COMMAND_PALETTE_BINDING)]
        shown_keys, _ = fit_keys(keys, self._actions, width, compact)
        for key, shown, description, enabled in shown_keys:
            start = text.cell_len
            key_style = style("key-bar--key" if enabled else "key-bar--disabled")
            text.append(f" {shown} " if not compact else f"{shown} ", key_style)
            text.append(description, style("key-bar--description"))
            text.append(" " if compact else "  ")
            self._spans.append((start, text.cell_len, key))
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key.split(",")[0])
                return
