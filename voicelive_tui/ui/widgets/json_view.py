"""The side view with one event's full JSON (base64 audio elided)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.json import JSON
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from voicelive_tui.protocol import elide_for_display


def event_json(event: Mapping[str, Any]) -> JSON:
    """Pretty JSON of ``event`` with audio payloads replaced by their size."""
    return JSON.from_data(elide_for_display(event), indent=2, default=str)


class JsonScreen(ModalScreen[None]):
    """A panel docked to the right showing one event; Esc (or q, Enter) closes it."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, event: Mapping[str, Any]) -> None:
        super().__init__()
        self._title = title
        self._event = event

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="json-body") as body:
            body.border_title = self._title
            body.border_subtitle = "Esc to close"
            yield Static(event_json(self._event), id="json-text")
