"""A session renewed before it expires: what the new session keeps, and the gap it cost.

Pure. In agent mode the new session continues the agent's conversation through its
``conversation_id``. A model-mode session has no such id, so the text of the turns so
far is replayed into the new session as conversation items (their ids start with
:data:`RESTORED_PREFIX`, so the reducer does not show them as new turns). The gap is
the time from closing the old socket to the new session being ready with the
conversation in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicelive_tui.conversation.turns import Turn

RESTORED_PREFIX = "restored_"
"""Item ids of turns replayed into a renewed session."""
RESTORE_LIMIT = 100
"""At most this many of the newest turns are replayed."""


@dataclass(frozen=True)
class Renewal:
    """One renewal: when the new session was ready, how long the user could not talk,
    and what kept the conversation."""

    at: float
    gap_ms: float
    kept: str


def restorable(turns: list[Turn]) -> list[tuple[str, str]]:
    """(role, text) of the newest turns with words, oldest first: the user's as said or
    typed, the agent's as heard (a cut reply only up to the cut)."""
    said = [
        ("user" if t.role == "user" else "assistant", t.text.strip())
        for t in turns
        if t.role in ("user", "agent") and t.text.strip() and t.final
    ]
    return said[-RESTORE_LIMIT:]


def restored_item_id(n: int) -> str:
    return f"{RESTORED_PREFIX}{n:04d}"


def kept_by(*, agent: bool, conversation_id: str | None, replayed: int) -> str:
    """What kept the conversation across a renewal, in words."""
    if agent:
        if conversation_id:
            return f"conversation {conversation_id} continued"
        return "no conversation id to continue"
    return f"{replayed} earlier turns replayed as text (model mode: no conversation id)"
