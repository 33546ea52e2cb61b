"""Echo, as the conversation sees it: which reference the session asked for, and the
agent's suspected self-interruptions.

A *self-interruption* is the agent hearing itself: its voice leaks from the speaker into
the microphone, server VAD takes it for the user, and the reply is cut (or answered). It is
suspected when speech starts while the agent's audio is still sounding **and** the
transcript of that "speech" resembles what the agent had just said (most of its words are
among the agent's last heard words), or holds no words at all (what an echo canceller
lets through of the agent's voice is recognised as nothing more often than as words). A
user who talks over the agent says their own words, so barge-in is not counted.

Pure: no I/O, no clock; the session tells it when speech started over playback and what
the agent had been heard saying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from voicelive_tui.protocol import obj

EchoReference = Literal["server", "client", "off"]
"""What the session asked for: the service's own reference, the client's, or no echo
cancellation at all."""

RESEMBLES = 0.6
"""Share of the transcript's words found among the agent's last heard words: its echo."""
LAST_WORDS = 40
"""How many of the agent's last heard words a transcript is compared with."""

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, without punctuation."""
    return [w.lower() for w in _WORD.findall(text)]


def resembles(transcript: str, agent_said: str) -> bool:
    """True when most words of ``transcript`` are among the last words of ``agent_said``."""
    heard = words(transcript)
    if not heard:
        return False
    said = set(words(agent_said)[-LAST_WORDS:])
    return sum(w in said for w in heard) >= RESEMBLES * len(heard)


def requested_reference(session: dict[str, Any]) -> EchoReference | None:
    """The echo reference a sent ``session.update``'s session asks for (None: it does not
    touch echo cancellation)."""
    if "input_audio_echo_cancellation" not in session:
        return None
    ec = session.get("input_audio_echo_cancellation")
    if not isinstance(ec, dict):
        return "off"
    return "client" if obj(ec).get("reference_source") == "client" else "server"


@dataclass
class EchoWatch:
    """The session's echo reference and its suspected self-interruptions."""

    reference: EchoReference | None = None
    """As last sent in a ``session.update`` (None: not sent yet)."""
    input_channels: int = 1
    """Channels of each ``input_audio_buffer.append`` (2 with the client's reference)."""
    suspected: int = 0
    """Self-interruptions suspected so far."""
    suspects: list[str] = field(default_factory=list)
    """Item ids of the suspected self-interruptions, in order."""
    _pending: dict[str, str] = field(default_factory=dict)

    def session_sent(self, session: dict[str, Any]) -> None:
        """A ``session.update`` went out: note the reference (and the channels) it asks for."""
        reference = requested_reference(session)
        if reference is None:
            return
        self.reference = reference
        ec = obj(session.get("input_audio_echo_cancellation"))
        channels = ec.get("channels")
        self.input_channels = channels if reference == "client" and channels in (1, 2) else 1

    def speech_over_playback(self, item_id: str | None, agent_heard: str) -> None:
        """Speech started (item ``item_id``) while the agent was still heard saying
        ``agent_heard``: a self-interruption if its transcript resembles that."""
        if item_id:
            self._pending[item_id] = agent_heard
            while len(self._pending) > 8:  # transcripts that never came
                del self._pending[next(iter(self._pending))]

    def transcript(self, item_id: str | None, text: str) -> bool:
        """The user's transcript of ``item_id`` came; True when it counts as the agent's
        own voice (a new suspected self-interruption)."""
        agent_heard = self._pending.pop(item_id or "", None)
        if agent_heard is None or (words(text) and not resembles(text, agent_heard)):
            return False
        self.suspected += 1
        self.suspects.append(item_id or "")
        return True
