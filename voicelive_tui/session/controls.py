"""What the front ends ask of a session: mute, interrupt, type, reconnect, quit, settings.

:class:`SessionControls` is the base of :class:`~voicelive_tui.session.session.VoiceLiveSession`;
most controls hand over to its :class:`~voicelive_tui.session.dialogue.Dialogue`, and quit and
reconnect wake the connection worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from azure.ai.voicelive.aio import VoiceLiveConnection

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.dialogue import Dialogue
from voicelive_tui.session.service_config import SessionOverrides
from voicelive_tui.session.tool_calls import McpApprovals
from voicelive_tui.updates import Severity

__all__ = ["RECONNECT_REQUESTED", "SessionControls"]

RECONNECT_REQUESTED = "reconnect requested"


class SessionControls:
    """The session's controls and the dialogue's state they read."""

    dialogue: Dialogue
    _close_cause: str | None
    _quit: asyncio.Event
    _reconnect_now: asyncio.Event
    _spawn: Callable[[Coroutine[Any, Any, Any]], None]
    _close_quietly: Callable[[VoiceLiveConnection], Coroutine[Any, Any, None]]

    @property
    def conversation(self) -> Conversation:
        return self.dialogue.conversation

    @property
    def audio(self) -> AudioBackend:
        return self.dialogue.audio

    @property
    def _conn(self) -> VoiceLiveConnection | None:
        return self.dialogue.conn

    @_conn.setter
    def _conn(self, conn: VoiceLiveConnection | None) -> None:
        self.dialogue.conn = conn

    def notice(self, text: str, severity: Severity = Severity.INFORMATION) -> None:
        """Tell the user something (UI toast / console line) and the technical log."""
        self.dialogue.notice(text, severity)

    @property
    def approvals(self) -> McpApprovals:
        """MCP approvals: what answers them, and the labels approved without asking."""
        return self.dialogue.approvals

    # -- controls --------------------------------------------------------------

    @property
    def muted(self) -> bool:
        return self.conversation.muted

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) appending microphone audio; levels keep being measured."""
        self.dialogue.set_muted(muted)

    def toggle_mute(self) -> bool:
        self.set_muted(not self.muted)
        return self.muted

    def quit(self) -> None:
        """End run() cleanly: close the socket, stop audio, flush logs."""
        self._close_cause = "quit"
        self._quit.set()
        self._reconnect_now.set()
        conn = self._conn
        if conn is not None:
            self._spawn(self._close_quietly(conn))

    def reconnect(self) -> None:
        """Drop the current socket (if any) and connect again at once; a faulted audio
        device is retried too."""
        if self.audio.faulted:
            self._spawn(self.reopen_audio())
        conn = self._begin_planned_close(RECONNECT_REQUESTED)
        if conn is not None:
            self._spawn(self._close_quietly(conn))

    def _begin_planned_close(self, cause: str) -> VoiceLiveConnection | None:
        conn = self._conn
        if conn is not None:
            self._close_cause = cause
        self._reconnect_now.set()
        return conn

    async def reopen_audio(self) -> None:
        """Try the sound devices again after a fault (the dashboard's r key)."""
        await self.dialogue.reopen_audio()

    async def interrupt(self) -> None:
        """The interrupt key: silence the agent now, as a spoken barge-in would."""
        await self.dialogue.barge_in(reason="interrupt key")

    async def send_text(self, text: str) -> None:
        """Send a typed user message and ask for a response."""
        await self.dialogue.send_text(text)

    async def override(self, overrides: SessionOverrides) -> None:
        """Change the voice or VAD values live with a new session.update."""
        await self.dialogue.override(overrides)
