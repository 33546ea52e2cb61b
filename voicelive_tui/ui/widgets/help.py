"""The ? / F1 help screen: every key binding (from BINDINGS, so it cannot go stale)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "voicelive-tui shows a Voice Live conversation as it happens: the turns on the left, "
    "every event sent (↑) and received (↓) in the middle, and the audio levels and voice "
    "activity state on the right."
)
MORE = (
    "In the event stream: ↑/↓ move, Enter shows the event's JSON, End follows the tail again. "
    "Ctrl+P opens the command palette: the same actions, plus changing the voice, the "
    "VAD values and push to talk live (o edits every turn-taking setting). Logs are written "
    "to the log folder (see --log-dir)."
)


KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "Space",
    "escape": "Esc",
    "grave_accent": "`",
    "enter": "Enter",
    "ctrl": "Ctrl",
}


def key_label(key: str) -> str:
    """'ctrl+c' -> 'Ctrl+C', 'question_mark' -> '?', 'f1' -> 'F1', 'm' -> 'm'."""
    parts = key.split("+")
    shown = [KEY_NAMES.get(p, p.upper() if len(parts) > 1 or p[1:].isdigit() else p) for p in parts]
    return "+".join(shown)


def bindings_table(bindings: Iterable[Binding]) -> Table:
    """Keys grouped by action, in declaration order."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    grouped: dict[str, tuple[list[str], str]] = {}
    for binding in bindings:
        if not binding.description:
            continue
        keys = [key_label(k.strip()) for k in binding.key.split(",")]
        entry = grouped.setdefault(binding.action, ([], binding.tooltip or binding.description))
        entry[0].extend(k for k in keys if k not in entry[0])
    for keys, description in grouped.values():
        table.add_row(" / ".join(keys), description)
    return table


class HelpScreen(ModalScreen[None]):
    """Keys and what they do; Esc, q, ? or F1 closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close help"),
    ]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__()
        self._help_bindings = list(bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Help"
            body.border_subtitle = "Esc to close"
            yield Static(Text(INTRO), classes="help-text")
            yield Static(bindings_table(self._help_bindings), id="help-keys")
            yield Static(Text(MORE), classes="help-text")
