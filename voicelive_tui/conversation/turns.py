"""The values the conversation state is made of: turns, latencies, session facts, states.

Plain data and pure helpers, shared by :mod:`voicelive_tui.conversation.reducer` (which fills
them from events) and the front ends (which show them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from voicelive_tui.conversation.activity import ToolActivity
from voicelive_tui.conversation.usage import CostEstimate, TokenUsage


class ConnectionState(str, Enum):
    CONNECTING = "connecting"
    READY = "ready"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class VadState(str, Enum):
    IDLE = "idle"
    USER_SPEAKING = "user speaking"
    PROCESSING = "processing"
    AGENT_SPEAKING = "agent speaking"


Role = Literal["user", "agent", "system"]
"""Whose turn: the user's, the agent's, or the app's own notice (an outage, a warning)."""
TurnKind = Literal["audio", "text", "notice", "activity"]
"""Spoken, typed or written, a notice, or tool activity only."""


@dataclass
class Turn:
    """One utterance: the user's (audio or typed) or the agent's (audio or text)."""

    role: Role
    started_at: float
    item_id: str | None = None
    response_id: str | None = None
    text: str = ""
    final: bool = False
    kind: TurnKind = "audio"
    interrupted: bool = False
    heard_ms: int | None = None
    interrupted_by: str | None = None  # "quit", "connection lost", ...; None: the user
    audio_ms: float = 0.0  # agent audio received for this item
    status: str | None = None  # response status: completed, cancelled, ...
    latency_ms: float | None = None  # agent turn: voice-to-voice (typed: sent to first output)
    activity: list[ToolActivity] = field(default_factory=list)  # calls, approvals, searches
    words: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end ms, word)
    cut_estimated: bool = False  # cut from the played share of the audio, not word times
    citations: list[dict[str, Any]] = field(default_factory=list)  # transcript annotations
    usage: TokenUsage | None = None  # agent turn: its responses' tokens (response.done)
    cost: CostEstimate | None = None  # what ``usage`` costs by the price table


@dataclass
class SessionInfo:
    id: str | None = None
    model: str | None = None
    voice: str | None = None
    instructions: str | None = None
    agent_name: str | None = None
    conversation_id: str | None = None
    expires_at: float | None = None  # Unix time the service ends this session
    turn_config: dict[str, Any] = field(default_factory=dict)
    """The turn-taking part of the session as the service last echoed it (TURN_KEYS)."""
    refused: dict[str, str] = field(default_factory=dict)
    """``param`` -> the service's message for a session setting it refused (displayable);
    emptied by the next ``session.updated``."""


TURN_KEYS = ("turn_detection", "input_audio_noise_reduction", "input_audio_transcription")


def unix_time(value: Any) -> float | None:
    """``expires_at`` as Unix seconds: an int/float on the wire, maybe an ISO string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def cut_transcript(text: str, heard_ms: float, audio_ms: float) -> str:
    """The part of ``text`` spoken within ``heard_ms`` of ``audio_ms``, at a word boundary."""
    if audio_ms <= 0 or heard_ms >= audio_ms:
        return text
    keep = int(len(text) * max(0.0, heard_ms) / audio_ms)
    cut = text[:keep]
    if keep < len(text) and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:")


def cut_at_words(text: str, words: list[tuple[int, int, str]], heard_ms: float) -> str | None:
    """``text`` up to the last word whose audio had started playing by ``heard_ms`` (with
    the punctuation that follows it); None when the words cannot be found in ``text``."""
    pos = 0
    lowered = text.lower()
    for start, _end, word in words:
        if start >= heard_ms:
            break
        found = lowered.find(word.lower(), pos)
        if found < 0:
            return None
        pos = found + len(word)
    while pos < len(text) and not text[pos].isspace() and not text[pos].isalnum():
        pos += 1
    return text[:pos]
