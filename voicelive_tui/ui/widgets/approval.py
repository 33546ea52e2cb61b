"""The MCP approval prompt: which server wants to run which tool with which arguments."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from voicelive_tui.conversation.activity import ToolActivity
from voicelive_tui.protocol import preview

ARGUMENTS_CHARS = 400


def approval_text(entry: ToolActivity, waiting: int) -> Text:
    """The prompt's body: server, tool, arguments, and the keys."""
    text = Text()
    text.append("MCP server ", style="dim")
    text.append(entry.server_label or "?", style="bold")
    text.append(" asks to run ", style="dim")
    text.append(entry.name, style="bold")
    text.append("\n\n")
    text.append(preview(entry.arguments or "{}", ARGUMENTS_CHARS))
    text.append("\n\n")
    text.append("y", style="bold")
    text.append(" approve   ")
    text.append("n", style="bold")
    text.append(" deny")
    if waiting > 1:
        text.append(f"   ({waiting - 1} more waiting)", style="dim")
    return text


class ApprovalScreen(ModalScreen[bool]):
    """Asks whether an MCP call may run: ``y`` approves, ``n`` denies. The dashboard
    behind it keeps updating, and ``q`` / Ctrl+C still quit."""

    BINDINGS = [
        Binding("y", "answer(True)", "Approve"),
        Binding("n", "answer(False)", "Deny"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, entry: ToolActivity, waiting: int = 1) -> None:
        super().__init__()
        self.entry = entry
        self._waiting = waiting

    def compose(self) -> ComposeResult:
        with Vertical(id="approval-body") as body:
            body.border_title = "Approve MCP call?"
            yield Static(approval_text(self.entry, self._waiting), id="approval-text")

    def action_answer(self, approve: bool) -> None:
        self.dismiss(approve)
