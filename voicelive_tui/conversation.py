"""Pure conversation state: reduces sent and received Voice Live events into what to show.

No I/O and no clocks: every method takes the event (a plain dict, as on the wire) and
the monotonic time it happened. The dashboard and console mode both render from a
:class:`Conversation`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from voicelive_tui.activity import ActivityState, ToolActivity
from voicelive_tui.protocol import (
    AUDIO_DELTA,
    audio_bytes,
    is_benign_cancel_error,
    item_text,
    pcm_ms,
    voice_name,
)


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


@dataclass
class Turn:
    """One utterance: the user's (audio or typed) or the agent's (audio or text)."""

    role: str  # "user", "agent" or "system" (outages, notices)
    started_at: float
    item_id: str | None = None
    response_id: str | None = None
    text: str = ""
    final: bool = False
    kind: str = "audio"  # "audio", "text", "notice" or "activity" (tool calls only)
    interrupted: bool = False
    heard_ms: int | None = None
    interrupted_by: str | None = None  # "quit", "connection lost", ...; None: the user
    audio_ms: float = 0.0  # agent audio received for this item
    status: str | None = None  # response status: completed, cancelled, ...
    activity: list[ToolActivity] = field(default_factory=list)  # calls, approvals, searches
    words: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end ms, word)
    cut_estimated: bool = False  # cut from the played share of the audio, not word times
    citations: list[dict[str, Any]] = field(default_factory=list)  # transcript annotations


@dataclass
class TurnLatency:
    """Latencies of one user turn, in milliseconds (None until known)."""

    speech_stopped_at: float
    response_ms: float | None = None  # speech_stopped -> response.created
    voice_to_voice_ms: float | None = None  # speech_stopped -> first audio delta
    playback_ms: float | None = None  # first audio delta -> first sample played
    first_delta_at: float | None = None
    item_id: str | None = None


@dataclass
class SessionInfo:
    id: str | None = None
    model: str | None = None
    voice: str | None = None
    instructions: str | None = None
    agent_name: str | None = None
    conversation_id: str | None = None
    expires_at: float | None = None  # Unix time the service ends this session


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a field of the wrong shape)."""
    return value if isinstance(value, dict) else {}


def ident(value: Any) -> str | None:
    """``value`` when it is a non-empty string id, else None."""
    return value if isinstance(value, str) and value else None


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


@dataclass
class Conversation:
    """Everything the UI shows, derived only from events and feedback fed in."""

    connection: ConnectionState = ConnectionState.CONNECTING
    reconnect_in_s: float | None = None
    session: SessionInfo = field(default_factory=SessionInfo)
    turns: list[Turn] = field(default_factory=list)
    vad: VadState = VadState.IDLE
    active_response_id: str | None = None
    latencies: list[TurnLatency] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    outages: int = 0
    answered_user_turns: int = 0
    muted: bool = False
    audio_in_bytes: int = 0
    audio_out_bytes: int = 0
    activity: ActivityState = field(default_factory=ActivityState)
    _user_turn_waiting: bool = False
    _pending_latency: TurnLatency | None = None

    # -- queries ---------------------------------------------------------------

    @property
    def last_voice_to_voice_ms(self) -> float | None:
        """The newest voice-to-voice latency, for the status bar."""
        for lat in reversed(self.latencies):
            if lat.voice_to_voice_ms is not None:
                return lat.voice_to_voice_ms
        return None

    @property
    def response_active(self) -> bool:
        return self.active_response_id is not None

    def agent_turn(self, item_id: str | None) -> Turn | None:
        """The agent turn of ``item_id`` (newest first)."""
        if item_id is None:
            return None
        for turn in reversed(self.turns):
            if turn.role == "agent" and turn.item_id == item_id:
                return turn
        return None

    def current_agent_turn(self) -> Turn | None:
        """The agent turn of the active response, if any."""
        if self.active_response_id is None:
            return None
        for turn in reversed(self.turns):
            if turn.role == "agent" and turn.response_id == self.active_response_id:
                return turn
        return None

    # -- connection ------------------------------------------------------------

    def connecting(self) -> None:
        self.connection = ConnectionState.CONNECTING
        self.reconnect_in_s = None

    def expires_in(self, wall_now: float) -> float | None:
        """Seconds until the service ends the session (None: it did not say)."""
        if self.session.expires_at is None or self.connection != ConnectionState.READY:
            return None
        return self.session.expires_at - wall_now

    def cut_reply(self, cause: str) -> Turn | None:
        """The reply in progress ends without the user cutting it (quit, outage)."""
        turn = self.current_agent_turn()
        if turn is not None and not turn.interrupted:
            turn.interrupted = True
            turn.interrupted_by = cause
            turn.final = True
        return turn

    def interrupt_playback(self, item_id: str | None, cause: str) -> None:
        """A reply whose audio was still playing is cut by ``cause`` (e.g. quit)."""
        turn = self.agent_turn(item_id)
        if turn is not None and not turn.interrupted:
            turn.interrupted = True
            turn.interrupted_by = cause
            turn.final = True

    def end_connection(self, cause: str, now: float) -> None:
        """The client closed the socket on purpose (reconnect key, session renewal)."""
        self.cut_reply(cause)
        self.connection = ConnectionState.CONNECTING
        self.reconnect_in_s = None
        self.session.expires_at = None
        self._end_response(status=cause)
        self.vad = VadState.IDLE

    def connection_lost(
        self, reason: str, retry_in_s: float, now: float, *, connected: bool = True
    ) -> None:
        """The socket dropped (or, not ``connected``, an attempt failed); a reconnect is
        scheduled in ``retry_in_s`` seconds."""
        self.cut_reply("connection lost")
        self.session.expires_at = None
        if self.connection != ConnectionState.RECONNECTING:
            self.outages += 1
            what = "Connection lost" if connected else "Could not connect"
            self.turns.append(
                Turn(
                    "system",
                    now,
                    text=f"{what} ({reason}); reconnecting",
                    kind="notice",
                    final=True,
                )
            )
        self.connection = ConnectionState.RECONNECTING
        self.reconnect_in_s = retry_in_s
        self._end_response(status="interrupted by outage")
        self.vad = VadState.IDLE

    def closed(self) -> None:
        self.connection = ConnectionState.CLOSED
        self.reconnect_in_s = None
        self.active_response_id = None
        self.vad = VadState.IDLE

    # -- sent events -----------------------------------------------------------

    def apply_sent(self, event: dict[str, Any], now: float) -> None:
        """Account for an event the client sent."""
        kind = str(event.get("type", ""))
        self.sent[kind] += 1
        self.activity.apply_sent(event, now)
        if kind == "input_audio_buffer.append":
            self.audio_in_bytes += audio_bytes(event)
        elif kind == "conversation.item.create":
            item = obj(event.get("item"))
            if item.get("role") == "user":
                text = item_text(item)
                self.turns.append(
                    Turn(
                        "user",
                        now,
                        item_id=ident(item.get("id")),
                        text=text,
                        final=True,
                        kind="text",
                    )
                )
                self._user_turn_waiting = True

    # -- received events -------------------------------------------------------

    def apply_received(self, event: dict[str, Any], now: float) -> None:
        """Reduce one server event into the state. Unknown events only count."""
        kind = str(event.get("type", ""))
        self.received[kind] += 1
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, event, now)
        self.activity.apply(event, now, lambda entry: self._attach_activity(entry, now))

    def _session(self, event: dict[str, Any], now: float) -> None:
        session = obj(event.get("session"))
        voice = voice_name(session)
        agent = obj(session.get("agent"))
        self.session.id = ident(session.get("id")) or self.session.id
        self.session.model = ident(session.get("model")) or self.session.model
        self.session.voice = ident(voice) or self.session.voice
        self.session.instructions = ident(session.get("instructions")) or self.session.instructions
        self.session.agent_name = ident(agent.get("name")) or self.session.agent_name
        if "expires_at" in session:
            self.session.expires_at = unix_time(session.get("expires_at"))
        if event.get("type") == "session.updated":
            self.connection = ConnectionState.READY
            self.reconnect_in_s = None

    def _speech_started(self, event: dict[str, Any], now: float) -> None:
        self.vad = VadState.USER_SPEAKING
        self.turns.append(
            Turn("user", now, item_id=ident(event.get("item_id")), text="", kind="audio")
        )

    def _speech_stopped(self, event: dict[str, Any], now: float) -> None:
        self.vad = VadState.PROCESSING
        lat = TurnLatency(speech_stopped_at=now)
        self.latencies.append(lat)
        self._pending_latency = lat
        self._user_turn_waiting = True

    def _user_transcript(self, event: dict[str, Any], now: float) -> None:
        item_id = ident(event.get("item_id"))
        transcript = str(event.get("transcript", ""))
        for turn in reversed(self.turns):
            if turn.role == "user" and turn.kind == "audio" and (turn.item_id in (item_id, None)):
                turn.item_id = item_id
                turn.text = transcript
                turn.final = True
                return
        self.turns.append(Turn("user", now, item_id=item_id, text=transcript, final=True))

    def _response_created(self, event: dict[str, Any], now: float) -> None:
        response = obj(event.get("response"))
        self.active_response_id = ident(response.get("id"))
        conv = ident(response.get("conversation_id"))
        if conv:
            self.session.conversation_id = conv
        if self._pending_latency is not None and self._pending_latency.response_ms is None:
            self._pending_latency.response_ms = (
                now - self._pending_latency.speech_stopped_at
            ) * 1000

    def _output_item(self, event: dict[str, Any], now: float) -> None:
        item = obj(event.get("item"))
        if item.get("type") not in (None, "message"):
            return  # tool calls and searches: see _attach_activity
        if item.get("role") not in (None, "assistant") or self.agent_turn(ident(item.get("id"))):
            return
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
        if not turn.final:
            turn.text += str(event.get("delta", ""))

    def _text_done(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "text")
        turn.text = str(event.get("text", turn.text))
        turn.final = True

    def _word_timestamp(self, event: dict[str, Any], now: float) -> None:
        start, length, word = (
            event.get("audio_offset_ms"),
            event.get("audio_duration_ms"),
            event.get("text"),
        )
        if isinstance(start, int) and isinstance(length, int) and isinstance(word, str) and word:
            self._agent_turn_for(event, now, "audio").words.append((start, start + length, word))

    def _audio_delta(self, event: dict[str, Any], now: float) -> None:
        n = audio_bytes(event)
        self.audio_out_bytes += n
        turn = self._agent_turn_for(event, now, "audio")
        turn.audio_ms += pcm_ms(n)
        if self.vad != VadState.USER_SPEAKING:
            self.vad = VadState.AGENT_SPEAKING
        lat = self._pending_latency
        if lat is not None and lat.voice_to_voice_ms is None:
            lat.voice_to_voice_ms = (now - lat.speech_stopped_at) * 1000
            lat.first_delta_at = now
            lat.item_id = ident(event.get("item_id"))

    def _response_done(self, event: dict[str, Any], now: float) -> None:
        response = obj(event.get("response"))
        status = ident(response.get("status"))
        conv = ident(response.get("conversation_id"))
        if conv:
            self.session.conversation_id = conv
        for turn in self.turns:
            if turn.role == "agent" and turn.response_id == ident(response.get("id")):
                turn.status = status
                turn.final = True
        output = response.get("output")
        outputs = [obj(o).get("type") for o in output] if isinstance(output, list) else []
        if outputs and "message" not in outputs:
            status = "tool calls only"  # the agent answers once the results are in
        if status == "completed" and self._user_turn_waiting:
            self.answered_user_turns += 1
            self._user_turn_waiting = False
        if self.active_response_id in (None, ident(response.get("id"))):
            self._end_response(status=None)
        if self.vad in (VadState.AGENT_SPEAKING, VadState.PROCESSING):
            self.vad = VadState.IDLE
        self._pending_latency = None if status == "completed" else self._pending_latency

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

    def _warning(self, event: dict[str, Any], now: float) -> None:
        message = str(obj(event.get("warning")).get("message", ""))
        self.turns.append(
            Turn("system", now, text=f"Warning: {message}", kind="notice", final=True)
        )

    def _error(self, event: dict[str, Any], now: float) -> None:
        message = str(obj(event.get("error")).get("message", ""))
        if not is_benign_cancel_error(message):
            self.errors.append(message)

    def _end_response(self, status: str | None) -> None:
        if status:
            turn = self.current_agent_turn()
            if turn is not None and turn.status is None:
                turn.status = status
        self.active_response_id = None

    # -- feedback from the client side -------------------------------------------

    def playback_started(self, item_id: str, now: float) -> None:
        """The audio side played the first sample of ``item_id``."""
        for lat in reversed(self.latencies):
            if lat.item_id == item_id and lat.first_delta_at is not None:
                if lat.playback_ms is None:
                    lat.playback_ms = max(0.0, (now - lat.first_delta_at) * 1000)
                return

    def interrupt(self, item_id: str | None, heard_ms: int) -> None:
        """The user barged in: cut ``item_id`` where they stopped hearing it."""
        turn = self.agent_turn(item_id)
        if turn is None:
            return
        turn.interrupted = True
        turn.heard_ms = heard_ms
        cut = cut_at_words(turn.text, turn.words, heard_ms) if turn.words else None
        turn.cut_estimated = cut is None
        turn.text = cut_transcript(turn.text, heard_ms, turn.audio_ms) if cut is None else cut
        turn.final = True
        if self.vad == VadState.AGENT_SPEAKING:
            self.vad = VadState.IDLE


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


def cut_transcript(text: str, heard_ms: float, audio_ms: float) -> str:
    """The part of ``text`` spoken within ``heard_ms`` of ``audio_ms``, at a word boundary."""
    if audio_ms <= 0 or heard_ms >= audio_ms:
        return text
    keep = int(len(text) * max(0.0, heard_ms) / audio_ms)
    cut = text[:keep]
    if keep < len(text) and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:")


_HANDLERS = {
    "session.created": Conversation._session,
    "session.updated": Conversation._session,
    "input_audio_buffer.speech_started": Conversation._speech_started,
    "input_audio_buffer.speech_stopped": Conversation._speech_stopped,
    "conversation.item.input_audio_transcription.completed": Conversation._user_transcript,
    "response.created": Conversation._response_created,
    "response.output_item.added": Conversation._output_item,
    "response.audio_transcript.delta": Conversation._transcript_delta,
    "response.audio_transcript.done": Conversation._transcript_done,
    "response.text.delta": Conversation._text_delta,
    "response.text.done": Conversation._text_done,
    AUDIO_DELTA: Conversation._audio_delta,
    "response.done": Conversation._response_done,
    "error": Conversation._error,
    "warning": Conversation._warning,
    "response.audio_transcript.annotation.added": Conversation._annotation,
    "response.audio_timestamp.delta": Conversation._word_timestamp,
}
