"""The turn-taking timeline: what happened when, lane by lane, on the conversation's clock.

Fed by :class:`~voicelive_tui.conversation.reducer.Conversation` with every event sent and
received (and the audio side's playback start); the timeline view draws it. Pure and
bounded: each lane keeps its newest LANE_LIMIT entries.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from voicelive_tui.protocol import AUDIO_DELTA, audio_bytes, pcm_ms

__all__ = ["LANE_LIMIT", "AgentSpan", "Mark", "Span", "Timeline", "UserSpan", "end_reason"]

LANE_LIMIT = 200
DEVICE_SWITCH = "⇄"
"""The timeline's mark where a microphone or speaker was switched."""
APPEND_GAP_S = 0.5
"""Appends further apart than this are two stretches of sent audio (push to talk)."""
SEMANTIC = ("azure_semantic_vad", "azure_semantic_vad_en", "azure_semantic_vad_multilingual")

Why = str
"""Why a user turn ended: ``silence 500 ms``, ``EOU high``, ``semantic``, ``push to talk``,
``typed``."""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def end_reason(turn_detection: dict[str, Any] | None) -> Why:
    """What ends a spoken turn under this ``turn_detection`` (the service's echo)."""
    if not turn_detection:
        return "push to talk"
    eou = _obj(turn_detection.get("end_of_utterance_detection"))
    if eou:
        return f"EOU {eou.get('threshold_level', 'default')}"
    silence = turn_detection.get("silence_duration_ms", 500)
    if turn_detection.get("type") in SEMANTIC:
        return f"semantic, {silence} ms"
    return f"silence {silence} ms"


@dataclass
class Span:
    """Something that lasted: ``end`` is None while it goes on."""

    start: float
    end: float | None = None


@dataclass
class UserSpan(Span):
    """A user turn: spoken (server VAD or push to talk) or typed."""

    item_id: str | None = None
    why: Why = ""
    text: str = ""


@dataclass
class AgentSpan(Span):
    """An agent reply as heard: from its first sample at the device."""

    item_id: str = ""
    audio_ms: float = 0.0
    cut_ms: int | None = None
    """Where a barge-in cut it (the heard-word cut), else None."""
    cut_at: float | None = None
    """When it was cut."""


@dataclass(frozen=True)
class Mark:
    """A moment on a lane: ``glyph`` drawn at ``at``."""

    lane: Literal["vad", "agent", "tools"]
    at: float
    glyph: str


def _lane() -> deque[Any]:
    return deque(maxlen=LANE_LIMIT)


@dataclass
class Timeline:
    """The lanes: sent audio, server VAD, user turns, agent audio as heard, marks."""

    sent: deque[Span] = field(default_factory=_lane)
    vad: deque[Span] = field(default_factory=_lane)
    user: deque[UserSpan] = field(default_factory=_lane)
    agent: deque[AgentSpan] = field(default_factory=_lane)
    marks: deque[Mark] = field(default_factory=_lane)
    turn_detection: dict[str, Any] | None = None
    _last_append: float = float("-inf")
    _typing: dict[str, str] = field(default_factory=dict)

    # -- feeding -----------------------------------------------------------------

    def apply_sent(self, event: dict[str, Any], now: float) -> None:
        """An event the client sent."""
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            self.appended(now)
        elif kind == "input_audio_buffer.commit":
            # Push to talk: the turn is the stretch of audio sent since the microphone opened.
            start = self.sent[-1].start if self.sent else now
            self.user.append(UserSpan(start, now, why="push to talk"))
        elif kind == "conversation.item.create":
            item = _obj(event.get("item"))
            if item.get("role") == "user":
                text = " ".join(
                    str(c.get("text", "")) for c in item.get("content") or [] if isinstance(c, dict)
                )
                self.user.append(UserSpan(now, now, why="typed", text=text))
        elif kind == "input_text.delta":
            item_id = str(event.get("id") or "")
            self._typing[item_id] = self._typing.get(item_id, "") + str(event.get("delta") or "")
        elif kind == "input_text.done":
            text = self._typing.pop(str(event.get("id") or ""), "")
            self.user.append(UserSpan(now, now, why="typed", text=text))
        elif kind == "conversation.item.truncate":
            self._cut(str(event.get("item_id") or ""), event.get("audio_end_ms"), now)

    def appended(self, now: float) -> None:
        """A microphone block sent (``input_audio_buffer.append``)."""
        if now - self._last_append > APPEND_GAP_S or not self.sent:
            self.sent.append(Span(now, now))
        self.sent[-1].end = now
        self._last_append = now

    def apply_received(self, event: dict[str, Any], now: float) -> None:
        """An event the service sent."""
        kind = event.get("type")
        if kind in ("session.created", "session.updated"):
            session = _obj(event.get("session"))
            if "turn_detection" in session:
                td = session.get("turn_detection")
                self.turn_detection = td if isinstance(td, dict) else None
        elif kind == "input_audio_buffer.speech_started":
            self.vad.append(Span(now))
            self.user.append(UserSpan(now, item_id=event.get("item_id")))
        elif kind == "input_audio_buffer.speech_stopped":
            if self.vad and self.vad[-1].end is None:
                self.vad[-1].end = now
        elif kind == "input_audio_buffer.committed":
            self.marks.append(Mark("vad", now, "│"))
            turn = self._user(event.get("item_id"))
            if turn is not None and turn.end is None:
                turn.end, turn.why = now, end_reason(self.turn_detection)
            elif turn is None and self.user and self.user[-1].why == "push to talk":
                self.user[-1].item_id = event.get("item_id")
        elif kind == "conversation.item.input_audio_transcription.completed":
            turn = self._user(event.get("item_id"))
            if turn is not None:
                turn.text = str(event.get("transcript", ""))
        elif kind == AUDIO_DELTA:
            self._audio(str(event.get("item_id") or ""), pcm_ms(audio_bytes(event)), now)
        elif kind == "conversation.item.truncated":
            self._cut(str(event.get("item_id") or ""), event.get("audio_end_ms"), now)
        elif kind == "response.done":
            status = _obj(event.get("response")).get("status")
            if status == "cancelled":
                self.marks.append(Mark("agent", now, "×"))
        elif kind in ("response.function_call_arguments.done", "response.mcp_call.completed"):
            self.marks.append(Mark("tools", now, "◆"))

    def device_switched(self, now: float) -> None:
        """A microphone or speaker was switched: ``⇄`` on the agent's lane."""
        self.marks.append(Mark("agent", now, DEVICE_SWITCH))

    def playback_started(self, item_id: str, now: float) -> None:
        """The first sample of ``item_id`` left the device: the reply is heard from now."""
        span = self._agent(item_id)
        if span is None:
            self.agent.append(AgentSpan(now, item_id=item_id))
        else:
            span.start = now  # the device's time, not the bytes' arrival

    # -- helpers -------------------------------------------------------------------

    def _user(self, item_id: Any) -> UserSpan | None:
        return next((t for t in reversed(self.user) if item_id and t.item_id == item_id), None)

    def _agent(self, item_id: str) -> AgentSpan | None:
        return next((a for a in reversed(self.agent) if a.item_id == item_id), None)

    def _audio(self, item_id: str, ms: float, now: float) -> None:
        span = self._agent(item_id)
        if span is None:
            # Until the device says when it played (never, with no audio): from arrival.
            span = AgentSpan(now, item_id=item_id)
            self.agent.append(span)
        span.audio_ms += ms

    def _cut(self, item_id: str, audio_end_ms: Any, now: float) -> None:
        span = self._agent(item_id)
        if span is not None and isinstance(audio_end_ms, int) and span.cut_ms is None:
            span.cut_ms, span.cut_at = audio_end_ms, now

    def agent_end(self, span: AgentSpan) -> float:
        """When the reply stopped being heard: its length played out, or when it was cut."""
        if span.cut_at is not None:
            return span.cut_at  # heard until the barge-in, whatever was queued
        return span.start + span.audio_ms / 1000
