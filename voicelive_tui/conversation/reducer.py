"""Pure conversation state: reduces sent and received Voice Live events into what to show.

No I/O and no clocks: every method takes the event (a plain dict, as on the wire) and
the monotonic time it happened. The agent's reply turns are built here too, from the
streamed text, transcript, audio, word, citation and tool activity deltas. The dashboard
and console mode both render from a :class:`Conversation`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from voicelive_tui.conversation.activity import ActivityState, ToolActivity
from voicelive_tui.conversation.echo import EchoWatch
from voicelive_tui.conversation.latency import TurnTiming
from voicelive_tui.conversation.renewal import RESTORED_PREFIX, Renewal
from voicelive_tui.conversation.timeline import Timeline
from voicelive_tui.conversation.turn_timer import TurnTimer
from voicelive_tui.conversation.turns import (
    TURN_KEYS,
    ConnectionState,
    SessionInfo,
    Turn,
    TurnKind,
    VadState,
    cut_at_words,
    cut_transcript,
    unix_time,
)
from voicelive_tui.conversation.usage import CostEstimate, TokenUsage, UsageLedger
from voicelive_tui.protocol import (
    APPEND,
    AUDIO_DELTA,
    audio_bytes,
    ident,
    is_benign_cancel_error,
    item_text,
    obj,
    pcm_ms,
    shown,
    voice_name,
)
from voicelive_tui.safe_text import displayable


@dataclass
class Conversation:
    """Everything the UI shows, derived only from events and feedback fed in."""

    connection: ConnectionState = ConnectionState.CONNECTING
    reconnect_in_s: float | None = None
    session: SessionInfo = field(default_factory=SessionInfo)
    turns: list[Turn] = field(default_factory=list)
    vad: VadState = VadState.IDLE
    active_response_id: str | None = None
    timer: TurnTimer = field(default_factory=TurnTimer)
    activity: ActivityState = field(default_factory=ActivityState)
    usage: UsageLedger = field(default_factory=UsageLedger)
    renewals: list[Renewal] = field(default_factory=list)
    echo: EchoWatch = field(default_factory=EchoWatch)
    """The echo reference asked for, and the agent's suspected self-interruptions."""
    timeline: Timeline = field(default_factory=Timeline)
    rtt_ms: float | None = None
    """The socket's round-trip time (the kernel's smoothed TCP RTT), when known."""
    rtt_unavailable: bool = False
    """The kernel was asked for the round-trip time and does not offer it here ("n/a")."""
    received: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    outages: int = 0
    answered_user_turns: int = 0
    muted: bool = False
    push_to_talk: bool = False
    """Tap to talk is on: the client ends turns (no server VAD)."""
    talking: bool = False
    """Push to talk: the microphone is open for a turn."""
    audio_in_bytes: int = 0
    audio_out_bytes: int = 0
    _user_turn_waiting: bool = False
    _streaming_text: dict[str, str] = field(default_factory=dict)
    """Typed text streamed with ``input_text.delta``, by item id, until its ``done``."""

    # -- queries ---------------------------------------------------------------

    @property
    def latencies(self) -> list[TurnTiming]:
        """Every timed turn (spoken and typed), in order: see :mod:`.latency`."""
        return self.timer.latencies

    def cost(self, usage: TokenUsage | None = None) -> CostEstimate | None:
        """The cost estimate of ``usage`` (default: the session's), None without prices."""
        return self.usage.estimate(usage or self.usage.total, self.session.model)

    @property
    def last_voice_to_voice_ms(self) -> float | None:
        """The newest voice-to-voice latency, for the status bar."""
        return self.timer.last_voice_to_voice_ms

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

    def end_connection(self, cause: str) -> None:
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
                    text=displayable(f"{what} ({reason}); reconnecting", one_line=True),
                    kind="notice",
                    final=True,
                )
            )
        self.connection = ConnectionState.RECONNECTING
        self.reconnect_in_s = retry_in_s
        self._end_response(status="interrupted by outage")
        self.vad = VadState.IDLE

    def renewed(self, gap_ms: float, kept: str, now: float) -> Renewal:
        """The session was renewed before it expired; the user could not talk for ``gap_ms``."""
        renewal = Renewal(now, gap_ms, kept)
        self.renewals.append(renewal)
        self.turns.append(
            Turn(
                "system",
                now,
                text=f"Session renewed in {gap_ms / 1000:.2f} s: {kept}",
                kind="notice",
                final=True,
            )
        )
        return renewal

    def closed(self) -> None:
        self.connection = ConnectionState.CLOSED
        self.reconnect_in_s = None
        self.active_response_id = None
        self.vad = VadState.IDLE

    # -- sent events -----------------------------------------------------------

    def apply_sent(self, event: dict[str, Any], now: float) -> None:
        """Account for an event the client sent."""
        kind = str(event.get("type", ""))
        if kind == APPEND:
            self.appended(audio_bytes(event), now)
            return
        self.sent[kind] += 1
        self.activity.apply_sent(event, now)
        self.timeline.apply_sent(event, now)
        if kind == "session.update":
            self.echo.session_sent(obj(event.get("session")))
        elif kind == "input_audio_buffer.commit":
            # Push to talk (or any client-ended turn): the user is done, the agent thinks.
            self.vad = VadState.PROCESSING
            self._user_turn_waiting = True
        elif kind == "conversation.item.create":
            item = obj(event.get("item"))
            if str(item.get("id") or "").startswith(RESTORED_PREFIX):
                return  # a turn shown already, replayed into a renewed session
            if item.get("type") == "mcp_approval_response":
                approval = self.activity.approval(ident(item.get("approval_request_id")))
                if approval is not None and approval.ended_at is not None:
                    self.timer.waited(approval.started_at, approval.ended_at)
            if item.get("role") == "user":
                self._typed(ident(item.get("id")), item_text(item), now)
        elif kind == "input_text.delta":
            item_id = str(event.get("id") or "")
            self._streaming_text[item_id] = self._streaming_text.get(item_id, "") + str(
                event.get("delta") or ""
            )
        elif kind == "input_text.done":
            item_id = str(event.get("id") or "")
            self._typed(item_id or None, self._streaming_text.pop(item_id, ""), now)
        elif kind == "conversation.item.truncate":
            # A barge-in: the live session marked the turn already; a replay learns it here.
            turn = self.agent_turn(ident(event.get("item_id")))
            end_ms = event.get("audio_end_ms")
            if turn is not None and not turn.interrupted and isinstance(end_ms, int):
                self.interrupt(turn.item_id, end_ms)

    def appended(self, pcm_bytes: int, now: float) -> None:
        """A microphone block of ``pcm_bytes`` went out (``input_audio_buffer.append``):
        all that :meth:`apply_sent` does for one, without reading the event. Fifty times a
        second, so the live session calls it straight away; a replay comes through
        :meth:`apply_sent`."""
        self.sent[APPEND] += 1
        self.timeline.appended(now)
        # The microphone's bytes: with the client's echo reference every frame also
        # holds a reference sample, which is neither the user's audio nor billed.
        n = pcm_bytes // self.echo.input_channels
        self.audio_in_bytes += n
        self.timer.capture_clock.appended(pcm_ms(n), now)

    def _typed(self, item_id: str | None, text: str, now: float) -> None:
        """A typed user message went out (as an item, or streamed): a turn, timed."""
        self.turns.append(
            Turn("user", now, item_id=item_id, text=displayable(text), final=True, kind="text")
        )
        self._user_turn_waiting = True
        self.timer.start(TurnTiming(kind="typed", sent=now))

    # -- received events -------------------------------------------------------

    def apply_received(self, event: dict[str, Any], now: float) -> None:
        """Reduce one server event into the state. Unknown events only count."""
        kind = str(event.get("type", ""))
        self.received[kind] += 1
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, event, now)
        self.timeline.apply_received(event, now)
        if kind == AUDIO_DELTA:
            self._tool_results_heard(now)
        self.activity.apply(event, now, lambda entry: self._attach_activity(entry, now))

    def _tool_results_heard(self, now: float) -> None:
        """Agent audio: the calls of the newest turns whose results it follows are done."""
        for turn in self.turns[-3:]:
            for entry in turn.activity:
                if entry.ended_at is not None and entry.next_audio_at is None:
                    entry.next_audio_at = now

    def _session(self, event: dict[str, Any], now: float) -> None:
        session = obj(event.get("session"))
        voice = voice_name(session)
        agent = obj(session.get("agent"))
        # What is only shown is stored displayable; the conversation id is sent back as is.
        self.session.id = shown(session.get("id")) or self.session.id
        self.session.model = shown(session.get("model")) or self.session.model
        self.session.voice = shown(voice) or self.session.voice
        self.session.instructions = shown(session.get("instructions")) or self.session.instructions
        self.session.agent_name = shown(agent.get("name")) or self.session.agent_name
        if "expires_at" in session:
            self.session.expires_at = unix_time(session.get("expires_at"))
        self.session.turn_config = {k: session[k] for k in TURN_KEYS if k in session}
        if event.get("type") == "session.updated":
            self.session.refused = {}
            self.connection = ConnectionState.READY
            self.reconnect_in_s = None

    def _speech_started(self, event: dict[str, Any], now: float) -> None:
        self.vad = VadState.USER_SPEAKING
        self.turns.append(
            Turn("user", now, item_id=ident(event.get("item_id")), text="", kind="audio")
        )

    def _speech_stopped(self, event: dict[str, Any], now: float) -> None:
        self.vad = VadState.PROCESSING
        self.timer.speech_stopped(event.get("audio_end_ms"), now)
        self._user_turn_waiting = True

    def speech_over_playback(
        self, item_id: str | None, agent_item: str | None, heard_ms: int
    ) -> None:
        """Speech (item ``item_id``) started while the agent's ``agent_item`` was still
        sounding, ``heard_ms`` of it heard: its transcript decides whether it was the agent's
        own voice (see :mod:`.echo`)."""
        turn = self.agent_turn(agent_item)
        if turn is None:
            return
        heard = cut_at_words(turn.text, turn.words, heard_ms) if turn.words else None
        if heard is None:
            heard = cut_transcript(turn.text, heard_ms, turn.audio_ms)
        self.echo.speech_over_playback(item_id, heard)

    def _user_transcript(self, event: dict[str, Any], now: float) -> None:
        item_id = ident(event.get("item_id"))
        transcript = displayable(str(event.get("transcript", "")))
        self.echo.transcript(item_id, transcript)
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
        self.timer.response_created(now)

    def _response_done(self, event: dict[str, Any], now: float) -> None:
        response = obj(event.get("response"))
        status = shown(response.get("status"))
        output = response.get("output")
        outputs = [obj(o).get("type") for o in output] if isinstance(output, list) else []
        if outputs and "message" not in outputs:
            status = "tool calls only"  # the agent answers once the results are in
        conv = ident(response.get("conversation_id"))
        if conv:
            self.session.conversation_id = conv
        spent = self.usage.add(response, now)
        for turn in self.turns:
            if turn.role == "agent" and turn.response_id == ident(response.get("id")):
                turn.status = status
                turn.final = True
                if spent is not None:
                    turn.usage = spent.usage if turn.usage is None else turn.usage + spent.usage
                    turn.cost = self.cost(turn.usage)
                    spent = None  # one turn carries a response's tokens
        if status == "completed" and self._user_turn_waiting:
            self.answered_user_turns += 1
            self._user_turn_waiting = False
        if self.active_response_id in (None, ident(response.get("id"))):
            self._end_response(status=None)
        if self.vad in (VadState.AGENT_SPEAKING, VadState.PROCESSING):
            self.vad = VadState.IDLE
        self.timer.response_done(status)

    # -- the agent's replies ----------------------------------------------------

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

    def _agent_turn_for(self, event: dict[str, Any], now: float, kind: TurnKind) -> Turn:
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
            turn.text += displayable(str(event.get("delta", "")))

    def _transcript_done(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "audio")
        if not turn.interrupted:
            turn.text = displayable(str(event.get("transcript", turn.text)))
        turn.final = True

    def _text_delta(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "text")
        self._first_output(event, now)
        if not turn.final:
            turn.text += displayable(str(event.get("delta", "")))

    def _text_done(self, event: dict[str, Any], now: float) -> None:
        turn = self._agent_turn_for(event, now, "text")
        turn.text = displayable(str(event.get("text", turn.text)))
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
            turn = self._agent_turn_for(event, now, "audio")
            turn.words.append((start, start + length, displayable(word)))

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
            note = obj(event.get("annotation"))  # titles and URLs of web pages: shown only
            clean = {
                k: displayable(v, one_line=True) if isinstance(v, str) else v
                for k, v in note.items()
            }
            turn.citations.append(clean)

    def _error(self, event: dict[str, Any], now: float) -> None:
        error = obj(event.get("error"))
        message = str(error.get("message", ""))
        if not is_benign_cancel_error(message):
            self.errors.append(displayable(message, one_line=True))
        param = error.get("param")
        if isinstance(param, str) and param.startswith("session"):
            self.session.refused[displayable(param, one_line=True)] = displayable(
                message, one_line=True
            )

    def _end_response(self, status: str | None) -> None:
        if status:
            turn = self.current_agent_turn()
            if turn is not None and turn.status is None:
                turn.status = status
        self.active_response_id = None

    # -- feedback from the client side -------------------------------------------

    def playback_started(self, item_id: str, now: float) -> None:
        """The audio side played the first sample of ``item_id`` (``now``: when it leaves
        the device, its output latency included)."""
        self.timeline.playback_started(item_id, now)
        self._show_latency(self.timer.playback_started(item_id, now))

    def device_switched(self, now: float, *, playing: bool) -> None:
        """A microphone or speaker was switched mid-session (``playing``: agent audio was
        still queued): the turn it spans is marked, and the timeline shows when."""
        self.timer.device_switched(playing=playing)
        self.timeline.device_switched(now)

    def _show_latency(self, timing: TurnTiming | None) -> None:
        turn = self.agent_turn(timing.item_id) if timing is not None else None
        if turn is not None and timing is not None:
            turn.latency_ms = timing.total_ms

    def _first_output(self, event: dict[str, Any], now: float) -> None:
        """The first text or audio of the answer to the pending turn."""
        self._show_latency(self.timer.first_output(event, now))

    def _warning(self, event: dict[str, Any], now: float) -> None:
        message = displayable(str(obj(event.get("warning")).get("message", "")), one_line=True)
        self.turns.append(
            Turn("system", now, text=f"Warning: {message}", kind="notice", final=True)
        )

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
