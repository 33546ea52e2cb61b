"""The seed's conversation log, written from the session's updates.

:class:`ConversationLogWriter` observes a session and writes, in order: the session
header on every ``session.updated``, ``User Input:`` for transcribed speech and typed
messages, ``Agent Audio Response:`` / ``Agent Text Response:`` once per agent item,
``Connection lost:`` for outages (``Reconnect:`` when asked for), and the agent's activity
as ``Tool Call:`` / ``Tool Result:`` / ``Approval:`` lines as it happens. An agent item cut
off before its transcript was done still gets its line, marked ``[interrupted at N s]``
(the user; ``[interrupted at N s, estimated]`` when no word timestamps placed the cut),
``[interrupted: quit]`` or ``[interrupted: connection lost]``, before anything said after
it. An audio reply whose transcript is done while its audio still plays is held until the
user heard it all or cut it off, so the log keeps what was really heard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from voicelive_tui.conversation.activity import log_lines
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.turns import Turn
from voicelive_tui.logs import ConversationLog
from voicelive_tui.protocol import APPEND, ident, item_text, obj, text_field, voice_name
from voicelive_tui.safe_text import displayable
from voicelive_tui.updates import Closed, EventReceived, EventSent, Outage, PlannedReconnect, Update


def agent_line(turn: Turn) -> str:
    """The seed's line for an agent turn, marked where and why it was cut off."""
    suffix = ""
    if turn.interrupted_by:
        suffix = f" [interrupted: {turn.interrupted_by}]"
    elif turn.interrupted and turn.kind != "text":
        estimated = ", estimated" if turn.cut_estimated else ""
        suffix = f" [interrupted at {(turn.heard_ms or 0) / 1000:.1f} s{estimated}]"
    text = displayable(turn.text, one_line=True)  # one line per utterance
    if turn.kind == "text":
        return f"Agent Text Response:\t{text}{suffix}"
    return f"Agent Audio Response:\t{text}{suffix}"


class ConversationLogWriter:
    """Session observer that keeps ``<stamp>_conversation.log`` (see module docstring)."""

    def __init__(
        self,
        log: ConversationLog,
        conversation: Conversation,
        still_playing: Callable[[str], bool] = lambda item_id: False,
    ) -> None:
        self.log = log
        self.conversation = conversation
        self.still_playing = still_playing
        self._logged_items: set[str] = set()
        self._held: list[str] = []  # audio replies still playing: the user may cut them
        self.held = asyncio.Event()
        """Set when a line is held (see :func:`~.upkeep.log_heard_replies`)."""

    def __call__(self, update: Update) -> None:
        if isinstance(update, Outage):
            if update.connected:
                self.flush_unlogged_turns()
                self.log.write(
                    f"Connection lost:\t{update.reason}; reconnecting in {update.retry_in_s:.1f} s"
                )
        elif isinstance(update, PlannedReconnect):
            self.flush_unlogged_turns()
            self.log.write(f"Reconnect:\t{update.cause}")
        elif isinstance(update, Closed):
            self.flush_unlogged_turns()
        elif isinstance(update, (EventSent, EventReceived)):
            if update.event.get("type") == APPEND:
                return  # a microphone block (fifty a second): nothing to log
            for line in log_lines(self.conversation.activity, update.direction, update.event):
                self.flush_unlogged_turns(only_final=True)
                self.log.write(line)
            if isinstance(update, EventSent):
                self._sent(update.event)
            else:
                self._received(update.event)

    def _sent(self, event: dict[str, Any]) -> None:
        if event.get("type") == "conversation.item.truncate":
            # The user cut the agent off here: its line goes before whatever they say next.
            turn = self.conversation.agent_turn(ident(event.get("item_id")))
            if turn is not None and turn.text:
                self._agent(turn.item_id, agent_line(turn))
            return
        if event.get("type") == "input_text.done":
            # Typed text streamed into an item: the conversation has put it together.
            item_id = ident(event.get("id"))
            turn = next(
                (t for t in reversed(self.conversation.turns) if t.item_id == item_id), None
            )
            if turn is not None:
                self._user(turn.text)
            return
        item = obj(event.get("item"))
        if event.get("type") == "conversation.item.create" and item.get("role") == "user":
            self._user(item_text(item))

    def _received(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.updated":
            self.flush_unlogged_turns(only_final=True)
            session = obj(event.get("session"))
            self.log.header(
                str(session.get("id", "")),
                session.get("model"),
                voice_name(session),
                session.get("instructions"),
            )
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._user(text_field(event, "transcript"))
        elif kind == "response.text.done":
            self._agent(
                ident(event.get("item_id")), f"Agent Text Response:\t{text_field(event, 'text')}"
            )
        elif kind == "response.audio_transcript.done":
            item_id = ident(event.get("item_id"))
            turn = self.conversation.agent_turn(item_id)
            if turn is not None and turn.interrupted:
                self._agent(item_id, agent_line(turn))
            elif item_id and self.still_playing(item_id):
                # Written once the user heard it all, or cut it off (then marked).
                if item_id not in self._held:
                    self._held.append(item_id)
                    self.held.set()
            else:
                self._agent(item_id, f"Agent Audio Response:\t{text_field(event, 'transcript')}")
        elif kind == "response.done":
            self.flush_unlogged_turns(keep_playing=True)

    @property
    def holding(self) -> bool:
        """True while a reply's line waits for its audio to finish playing."""
        return bool(self._held)

    def flush_heard(self) -> None:
        """Write the held lines of replies that finished playing (heard in full)."""
        for item_id in list(self._held):
            turn = self.conversation.agent_turn(item_id)
            if turn is not None and not self.still_playing(item_id):
                self._agent(item_id, agent_line(turn))

    def _user(self, text: str) -> None:
        # What the agent said before comes first; a reply already streaming to this
        # input (its transcript may come late) is written when it ends.
        self.flush_unlogged_turns(only_final=True)
        self.log.write(f"User Input:\t{displayable(text, one_line=True)}")

    def _agent(self, item_id: str | None, line: str) -> None:
        if item_id:
            if item_id in self._logged_items:
                return
            self._logged_items.add(item_id)
            if item_id in self._held:
                self._held.remove(item_id)
        self.log.write(line)

    def flush_unlogged_turns(self, keep_playing: bool = False, only_final: bool = False) -> None:
        """Agent turns not written yet (cut off, or still playing) reach the log, in order.

        ``keep_playing`` keeps holding the lines of replies whose audio is still playing;
        ``only_final`` leaves a reply still streaming alone (its line comes when it ends).
        """
        for turn in self.conversation.turns:
            if turn.role != "agent" or not turn.item_id or not turn.text:
                continue
            if turn.item_id in self._logged_items or (only_final and not turn.final):
                continue
            if keep_playing and (turn.item_id in self._held or self.still_playing(turn.item_id)):
                continue
            self._agent(turn.item_id, agent_line(turn))
