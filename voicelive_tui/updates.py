"""What a session tells its observers: one frozen dataclass per kind of update.

Observers (the conversation log writer, the console printer, the dashboard) match on
these types. Nothing here speaks of keys or screens: a front end adds its own hint
(for example the dashboard's "press r to retry" after an :class:`AudioLost`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from voicelive_tui.safe_text import displayable


def _show_safely(update: object, name: str) -> None:
    """An update's text field from the service, made displayable once, where it is made."""
    object.__setattr__(update, name, displayable(getattr(update, name), one_line=True))


class Severity(str, enum.Enum):
    """How much a notice matters; the values are Textual's toast severities."""

    INFORMATION = "information"
    WARNING = "warning"
    ERROR = "error"


Direction = Literal["sent", "received"]
"""Which way an event crossed the socket."""


@dataclass(frozen=True)
class EventSent:
    """A client event went out on the socket."""

    event: dict[str, Any]
    at: float = 0.0
    direction: ClassVar[Direction] = "sent"


@dataclass(frozen=True)
class EventReceived:
    """A server event arrived (after the conversation state took it in)."""

    event: dict[str, Any]
    at: float = 0.0
    direction: ClassVar[Direction] = "received"


@dataclass(frozen=True)
class StateChanged:
    """The conversation or connection state changed in a way not carried by an event."""

    at: float = 0.0


@dataclass(frozen=True)
class Notice:
    """Something to tell the user, already redacted; its text is made displayable here."""

    text: str
    severity: Severity = Severity.INFORMATION
    at: float = 0.0

    def __post_init__(self) -> None:
        _show_safely(self, "text")


@dataclass(frozen=True)
class Outage:
    """A connection was lost (``connected``) or an attempt failed; retry in ``retry_in_s``."""

    reason: str
    retry_in_s: float
    connected: bool = True
    at: float = 0.0

    def __post_init__(self) -> None:
        _show_safely(self, "reason")


@dataclass(frozen=True)
class PlannedReconnect:
    """The socket was closed on purpose (reconnect asked for, session renewal)."""

    cause: str
    at: float = 0.0

    def __post_init__(self) -> None:
        _show_safely(self, "cause")


@dataclass(frozen=True)
class AudioLost:
    """The audio device failed or vanished; the session runs text-only until reopened
    (``reconnecting``: the backend retries by itself)."""

    message: str
    at: float = 0.0
    reconnecting: bool = False

    def __post_init__(self) -> None:
        _show_safely(self, "message")


@dataclass(frozen=True)
class Closed:
    """The session ended; nothing follows."""

    at: float = 0.0


Update = (
    EventSent
    | EventReceived
    | StateChanged
    | Notice
    | Outage
    | PlannedReconnect
    | AudioLost
    | Closed
)
Observer = Callable[[Update], None]
