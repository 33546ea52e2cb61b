"""Typed messages from the session side to the dashboard.

The session's observer runs on the loop thread, as the app does, but events can arrive
hundreds of times a second (audio deltas, microphone appends). So the observer only
queues them and posts one of these messages; the replaceable ones coalesce, and the
handler drains everything queued so far in one go.
"""

from __future__ import annotations

from textual.message import Message

from voicelive_tui.session import SessionOverrides
from voicelive_tui.updates import Severity


class EventsArrived(Message):
    """Events were queued for the event stream; only the newest of these waits."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsArrived)


class ConversationChanged(Message):
    """The conversation state changed (turns, VAD, connection); re-render from it."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConversationChanged)


class SessionNotice(Message):
    """Something the user should read: shown as a toast."""

    def __init__(self, text: str, severity: Severity = Severity.INFORMATION) -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class SettingsChangeRequested(Message):
    """The command palette asks for new voice or VAD values (sent with session.update)."""

    def __init__(self, overrides: SessionOverrides) -> None:
        super().__init__()
        self.overrides = overrides


class SessionStarted(Message):
    """The session object exists (its audio backend and settings can be shown)."""
