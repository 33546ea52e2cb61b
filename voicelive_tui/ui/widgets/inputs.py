"""The one-line inputs: a text message to the agent, and the event filter."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: not "printable" to Python, yet part of words in
Persian, Hindi and emoji sequences; Textual's Input would drop them when typed."""


class ClosingInput(Input):
    """An Input that hides itself on Esc and says so with a Closed message."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        """Esc was pressed; the input is hidden again."""

        def __init__(self, input: ClosingInput) -> None:
            super().__init__()
            self.input = input

        @property
        def control(self) -> ClosingInput:
            return self.input

    async def _on_key(self, event: events.Key) -> None:
        if event.character in JOINERS:
            event.stop()
            event.prevent_default()
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(event.character)
            else:
                self.replace(event.character, *selection)

    def open(self, value: str = "") -> None:
        """Show and focus the input."""
        self.value = value
        self.display = True
        self.focus()

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed(self))


class MessageInput(ClosingInput):
    """'Type a message to the agent' (t or Enter); Enter sends, Esc closes."""


class FilterInput(ClosingInput):
    """Event filter (/): a type prefix or text; filters as you type."""
