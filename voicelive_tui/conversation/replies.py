"""The agent's reply turns, built from the streamed deltas the reducer receives.

Pure, like :mod:`voicelive_tui.conversation.reducer`, whose :class:`~.conversation.Conversation`
mixes in :class:`AgentReplies`: its text, transcript, audio, word, citation and tool
activity handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicelive_tui.conversation.activity import ToolActivity
from voicelive_tui.conversation.turns import Turn, VadState, ident, obj
from voicelive_tui.protocol import audio_bytes, pcm_ms

__all__ = ["AgentReplies"]


class AgentReplies:
    """The reducer's handlers of the agent's output (see ``conversation._HANDLERS``)."""

    turns: list[Turn]
    vad: VadState
    audio_out_bytes: int
    agent_turn: Callable[[str | None], Turn | None]
    _first_output: Callable[[dict[str, Any], float], None]

    def _output_item(self, event: dict[str, Any], now: float) -> None:
        item = obj(event.get("item"))
        if item.get("role") not in (None, "assistant") or self.agent_turn(ident(item.get("id"))):
            return
        if item.get("type") not in (None, "message"):
            return  # tool calls and searches: see _attach_activity
        response_id = ident(event.get("response_id"))
        for turn in reversed(self.turns):
            if turn.role == "agent" and turn.kind == "activity" and turn.item_id is None:
                if response_id and turn.response_id == response_id:
                    # The answer after a search joins the turn that holds the search.
                    turn.item_id, turn.kind = ident(item.get("id")), "audio"
                    return
        self.turns.append(
            Turn(
                "agent",
                now,
                item_id=ident(item.get("id")),
                response_id=ident(event.get("response_id")),
            )
        )

    def _agent_turn_for(self, event: dict[str, Any], now: float, kind: str) -> Turn:
        turn = self.agent_turn(ident(event.get("item_id")))
        if turn is None:
            turn = Turn(
                "agent",
                now,
                item_id=ident(event.get("item_id")),
                response_id=ident(event.get("response_id")),
            )
            self.turns.append(turn)
        turn.kind = kind
        return turn

    def _transcript_delta(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "audio")
        if not turn.final:
            turn.text += str(event.get("delta", ""))

    def _transcript_done(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "audio")
        if not turn.interrupted:
            turn.text = str(event.get("transcript", turn.text))
        turn.final = True

    def _text_delta(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "text")
        self._first_output(event, now)
        if not turn.final:
            turn.text += str(event.get("delta", ""))

    def _text_done(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "text")
        turn.text = str(event.get("text", turn.text))
        turn.final = True

    def _audio_delta(self, event: dict[str, Any], now: float) -> None:
        n = audio_bytes(event)
        self.audio_out_bytes += n
        turn = self._agent_turn_for(event, now, "audio")
        turn.audio_ms += pcm_ms(n)
        if self.vad != VadState.USER_SPEAKING:
            self.vad = VadState.AGENT_SPEAKING
        self._first_output(event, now)

    def _word_timestamp(self, event: dict[str, Any], now: float) -> None:
        start, length, word = (
            event.get("audio_offset_ms"),
            event.get("audio_duration_ms"),
            event.get("text"),
        )
        if isinstance(start, int) and isinstance(length, int) and isinstance(word, str) and word:
            self._agent_turn_for(event, now, "audio").words.append((start, start + length, word))

    def _attach_activity(self, entry: ToolActivity, now: float) -> None:
        """A new call, approval or search joins the agent turn of its response (a turn of
        its own when the response says nothing, as a function call's does)."""
        for turn in reversed(self.turns):
            if turn.role == "agent" and entry.response_id and turn.response_id == entry.response_id:
                turn.activity.append(entry)
                return
        turn = Turn("agent", now, response_id=entry.response_id, kind="activity")
        turn.activity.append(entry)
        self.turns.append(turn)

    def _annotation(self, event: dict[str, Any], now: float) -> None:
        turn = self.agent_turn(ident(event.get("item_id")))
        if turn is not None:
            turn.citations.append(obj(event.get("annotation")))
