"""The seed's conversation log, written from the session's updates.

:class:`ConversationLogWriter` observes a session and writes, in order: the session
header on every ``session.updated``, ``User Input:`` for transcribed speech and typed
messages, ``Agent Audio Response:`` / ``Agent Text Response:`` once per agent item, and
``Connection lost:`` for outages. An agent item cut off before its transcript was done
still gets its line when the response ends (or the session closes), so nothing said is
ever missing from the log.
"""

from __future__ import annotations

from typing import Any

from voicelive_tui.conversation import Conversation, Turn
from voicelive_tui.logs import ConversationLog
from voicelive_tui.protocol import item_text


def agent_line(turn: Turn) -> str:
    """The seed's line for an agent turn, marked where the user cut it off."""
    if turn.kind == "text":
        return f"Agent Text Response:\t{turn.text}"
    suffix = f" [interrupted at {(turn.heard_ms or 0) / 1000:.1f} s]" if turn.interrupted else ""
    return f"Agent Audio Response:\t{turn.text}{suffix}"


class ConversationLogWriter:
    """Session observer that keeps ``<stamp>_conversation.log`` (see module docstring)."""

    def __init__(self, log: ConversationLog, conversation: Conversation) -> None:
        self.log = log
        self.conversation = conversation
        self._logged_items: set[str] = set()

    def __call__(self, update: Any) -> None:
        if update.kind == "outage":
            self.log.write(f"Connection lost:\t{update.text}")
        elif update.kind == "closed":
            self.flush_unlogged_turns()
        elif update.event is not None and update.kind == "sent":
            self._sent(update.event)
        elif update.event is not None and update.kind == "received":
            self._received(update.event)

    def _sent(self, event: dict[str, Any]) -> None:
        if event.get("type") == "conversation.item.truncate":
            # The user cut the agent off here: its line goes before whatever they say next.
            turn = self.conversation.agent_turn(event.get("item_id"))
            if turn is not None and turn.text:
                self._agent(turn.item_id, agent_line(turn))
            return
        item = event.get("item") or {}
        if event.get("type") == "conversation.item.create" and item.get("role") == "user":
            self.log.write(f"User Input:\t{item_text(item)}")

    def _received(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.updated":
            session = event.get("session") or {}
            self.log.header(
                session.get("id", ""),
                session.get("model"),
                session.get("voice"),
                session.get("instructions"),
            )
        elif kind == "conversation.item.input_audio_transcription.completed":
            self.log.write(f"User Input:\t{event.get('transcript', '')}")
        elif kind == "response.text.done":
            self._agent(event.get("item_id"), f"Agent Text Response:\t{event.get('text', '')}")
        elif kind == "response.audio_transcript.done":
            turn = self.conversation.agent_turn(event.get("item_id"))
            if turn is not None and turn.interrupted:
                line = agent_line(turn)
            else:
                line = f"Agent Audio Response:\t{event.get('transcript', '')}"
            self._agent(event.get("item_id"), line)
        elif kind == "response.done":
            self.flush_unlogged_turns()

    def _agent(self, item_id: str | None, line: str) -> None:
        if item_id:
            if item_id in self._logged_items:
                return
            self._logged_items.add(item_id)
        self.log.write(line)

    def flush_unlogged_turns(self) -> None:
        """Agent turns cut off before their transcript was done still reach the log."""
        for turn in self.conversation.turns:
            if turn.role != "agent" or not turn.item_id or not turn.text:
                continue
            if turn.item_id not in self._logged_items:
                self._agent(turn.item_id, agent_line(turn))
