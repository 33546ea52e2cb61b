"""The turn-taking settings screen (``o``): every detector parameter, edited live.

Each row is a field of :class:`~voicelive_tui.config.turns.TurnTaking`: what was asked (an
input; Enter sends a ``session.update``), and beside it what the service echoed in
``session.updated``, or the error it answered. What to show is computed by the pure
:func:`field_rows`; the screen only draws it, and only the rows that changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from voicelive_tui.config.turns import (
    DETECTORS,
    EOU_LEVELS,
    NOISE_REDUCTIONS,
    TEXT_FIELDS,
    TRANSCRIPTION_MODELS,
    TurnTaking,
    echoed_fields,
    field_of_param,
    parse_field,
    show_value,
)
from voicelive_tui.conversation.turns import SessionInfo
from voicelive_tui.safe_text import displayable

SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "detector": DETECTORS,
    "eou": EOU_LEVELS,
    "noise_reduction": NOISE_REDUCTIONS,
    "transcription_model": TRANSCRIPTION_MODELS,
}
ON_OFF = ("on", "off", "default")
CLIENT_SIDE = frozenset({"push_to_talk"})
"""Fields the service does not echo: the client's own (push to talk)."""


@dataclass(frozen=True)
class FieldRow:
    """One field as the screen shows it beside the input."""

    name: str
    note: str
    """The echoed value, the service's error, or a local problem."""
    kind: str
    """``echo``, ``differs`` (the echo is not what was asked), ``error`` or ``waiting``."""


def field_rows(
    asked: TurnTaking, session: SessionInfo, local_errors: dict[str, str]
) -> list[FieldRow]:
    """What each field shows beside its input: the echo, or why the value was refused."""
    echoed = echoed_fields(session.turn_config)
    refused: dict[str, str] = {}
    for param, message in session.refused.items():
        name = field_of_param(param)
        if name is not None:
            refused[name] = message
    rows = []
    for name in TEXT_FIELDS:
        if name in local_errors:
            rows.append(FieldRow(name, local_errors[name], "error"))
        elif name in refused:
            rows.append(FieldRow(name, f"refused: {refused[name]}", "error"))
        elif name in CLIENT_SIDE:
            rows.append(FieldRow(name, "client side", "echo"))
        elif name in echoed:
            shown = displayable(show_value(echoed[name]), one_line=True)
            mine = getattr(asked, name)
            differs = (
                echoed[name] != mine
                and mine is not None
                and not (name == "detector" and asked.push_to_talk)
            )
            rows.append(FieldRow(name, shown, "differs" if differs else "echo"))
        else:
            rows.append(FieldRow(name, "default", "echo"))
    return rows


class TurnSettingsScreen(ModalScreen[None]):
    """Edit turn taking live; each Enter sends a session.update. Esc closes."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("down", "app.focus_next", "Next", show=False, priority=True),
        Binding("up", "app.focus_previous", "Previous", show=False, priority=True),
    ]

    def __init__(
        self,
        asked: Callable[[], TurnTaking],
        session: Callable[[], SessionInfo | None],
        send: Callable[[TurnTaking], None],
    ) -> None:
        super().__init__()
        self._asked = asked
        self._session = session
        self._send = send
        self._local_errors: dict[str, str] = {}
        self._shown: dict[str, FieldRow] = {}

    def compose(self) -> ComposeResult:
        asked = self._asked()
        # Not focusable itself: up and down move between the fields, not the scroll.
        body = VerticalScroll(id="turn-settings-body", classes="report-body", can_focus=False)
        with body:
            body.border_title = "Turn taking"
            body.border_subtitle = "Enter sends session.update · Esc closes"
            with Horizontal(classes="turn-row turn-head"):
                yield Label("setting", classes="turn-label")
                yield Label("asked", classes="turn-asked")
                yield Label("the service's echo", classes="turn-note")
            for name, label in TEXT_FIELDS.items():
                choices = SUGGESTIONS.get(name)
                if choices is None and show_value(getattr(asked, name)) in ON_OFF:
                    choices = ON_OFF
                with Horizontal(classes="turn-row"):
                    yield Label(label, classes="turn-label")
                    yield Input(
                        show_value(getattr(asked, name)),
                        id=f"turn-{name}",
                        classes="turn-input",
                        suggester=SuggestFromList(choices) if choices else None,
                    )
                    yield Static("", id=f"turn-note-{name}", classes="turn-note")

    def on_mount(self) -> None:
        self.query_one(".turn-input", Input).focus()
        self.redraw()
        # The echo arrives in a few ms; twice a second is enough, and only while shown.
        self.set_interval(0.5, self.redraw)

    def redraw(self) -> None:
        """Update the notes whose text changed (no repaint otherwise)."""
        session = self._session()
        if session is None:
            return
        for row in field_rows(self._asked(), session, self._local_errors):
            if self._shown.get(row.name) == row:
                continue
            self._shown[row.name] = row
            note = self.query_one(f"#turn-note-{row.name}", Static)
            note.update(row.note)
            for kind in ("echo", "differs", "error"):
                note.set_class(kind == row.kind, f"-{kind}")

    @on(Input.Submitted, ".turn-input")
    def field_submitted(self, event: Input.Submitted) -> None:
        name = (event.input.id or "").removeprefix("turn-")
        try:
            value = parse_field(name, event.value)
        except ValueError as exc:
            self._local_errors[name] = f"not sent: {exc}"
        else:
            self._local_errors.pop(name, None)
            turns = self._asked().changed(**{name: value})
            problem = turns.problem()
            if problem:
                self._local_errors[name] = f"not sent: {problem}"
            else:
                self._send(turns)
        self.redraw()
