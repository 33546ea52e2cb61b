"""The side view with one event's full JSON (base64 audio elided)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from voicelive_tui.protocol import elide_for_display
from voicelive_tui.safe_text import displayable

_HIGHLIGHT = JSONHighlighter()


def event_json(event: Mapping[str, Any]) -> Text:
    """Pretty JSON of ``event`` with audio payloads replaced by their size.

    JSON escapes the C0 controls; DEL, C1 and the bidi controls it leaves raw (non-ASCII
    is kept readable), so the dump passes :func:`displayable` too."""
    dump = json.dumps(elide_for_display(event), indent=2, default=str, ensure_ascii=False)
    text = _HIGHLIGHT(displayable(dump))
    text.no_wrap = True
    return text


class JsonScreen(ModalScreen[None]):
    """A panel docked to the right showing one event; Esc (or q, Enter) closes it."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, event: Mapping[str, Any]) -> None:
        super().__init__()
        self._title = title
        self._event = event

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="json-body") as body:
            body.border_title = Text(self._title)  # a str would be read as markup
            body.border_subtitle = "Esc to close"
            yield Static(event_json(self._event), id="json-text")
