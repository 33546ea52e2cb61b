"""Barge-in as a decision: what to cancel and where to cut, from state alone.

No I/O: :func:`plan_barge_in` looks at the conversation and at how much of the agent's
newest item the user heard, and says which events the session must send.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicelive_tui.conversation.reducer import Conversation


@dataclass(frozen=True)
class BargeIn:
    """What a barge-in sends: ``response.cancel`` and/or ``conversation.item.truncate``."""

    response_id: str | None
    """The active response to cancel (its late audio is never played), if any."""
    truncate_item: str | None
    """The agent item to truncate at ``audio_end_ms``, if the user did not hear it all."""
    audio_end_ms: int = 0


def plan_barge_in(conv: Conversation, item_id: str | None, heard_ms: int) -> BargeIn:
    """The barge-in for ``item_id`` (the newest agent item whose audio was queued), of
    which the user heard ``heard_ms``: cut it where they stopped hearing it, unless it
    was heard to its end and its response is over."""
    response_id = conv.active_response_id
    turn = conv.agent_turn(item_id)
    truncate = None
    if item_id and turn is not None and not turn.interrupted:
        if heard_ms + 1 < turn.audio_ms or response_id is not None:
            truncate = item_id
    return BargeIn(response_id, truncate, heard_ms if truncate else 0)
