"""What is said over a session: sending, the server-event handlers, barge-in, capture.

A :class:`Dialogue` belongs to one :class:`~voicelive_tui.session.session.VoiceLiveSession`, which
hands it the socket while connected (``conn``) and every server event it receives. It
feeds the :class:`~voicelive_tui.conversation.reducer.Conversation`, the events log and the
observers, in that order.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from azure.ai.voicelive.aio import VoiceLiveConnection
from azure.ai.voicelive.models import (
    AssistantMessageItem,
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioBufferClear,
    ClientEventInputAudioBufferCommit,
    ClientEventInputTextDelta,
    ClientEventInputTextDone,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionUpdate,
    InputTextContentPart,
    OutputTextContentPart,
    ServerEvent,
    ServerEventResponseAudioDelta,
    UserMessageItem,
)

from voicelive_tui.audio.base import AudioBackend, AudioError
from voicelive_tui.audio.echo_check import run_echo_check
from voicelive_tui.audio.factory import make_backend, start_backend
from voicelive_tui.config import Settings
from voicelive_tui.config.turns import TurnTaking
from voicelive_tui.conversation.alarms import LedgerAlarms
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.renewal import kept_by, restorable, restored_item_id
from voicelive_tui.conversation.turns import VadState
from voicelive_tui.logs import PLAYBACK_STARTED, RunLogs
from voicelive_tui.protocol import (
    APPEND,
    append_text,
    ident,
    is_benign_cancel_error,
    pcm_ms,
    shown,
    streams_text,
    text_deltas,
)
from voicelive_tui.safe_text import displayable
from voicelive_tui.session.bargein import plan_barge_in
from voicelive_tui.session.frames import MALFORMED, send_text
from voicelive_tui.session.push_to_talk import TapAction, TapToTalk
from voicelive_tui.session.reconnect import short_error
from voicelive_tui.session.service_config import (
    EchoChoice,
    SessionOverrides,
    build_session_config,
    choose_echo_reference,
)
from voicelive_tui.session.tool_calls import McpApprovals, answer_function_calls, function_calls
from voicelive_tui.updates import (
    AudioLost,
    Direction,
    EventReceived,
    EventSent,
    Notice,
    Severity,
    StateChanged,
    Update,
)

log = logging.getLogger(__name__)

_LOG_LEVELS = {
    Severity.INFORMATION: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
}
Handler = Callable[[dict[str, Any]], Awaitable[None]]


def restored_item(n: int, role: str, text: str) -> UserMessageItem | AssistantMessageItem:
    """Turn ``n`` of a conversation replayed into a renewed session, as a text item."""
    if role == "user":
        return UserMessageItem(id=restored_item_id(n), content=[InputTextContentPart(text=text)])
    return AssistantMessageItem(id=restored_item_id(n), content=[OutputTextContentPart(text=text)])


class Dialogue:
    """The conversation over whichever socket is current (see module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        audio: AudioBackend,
        logs: RunLogs,
        emit: Callable[[Update], None],
        quitting: asyncio.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.audio = audio
        self.logs = logs
        self.clock = clock
        self.conversation = Conversation()
        self.conversation.usage.prices = settings.prices
        self.conversation.usage.model = settings.effective_model
        self.conn: VoiceLiveConnection | None = None
        self.overrides = SessionOverrides()
        self.talk = TapToTalk()
        self.text_streaming = streams_text(settings.api_version)
        """Typed text goes as input_text.delta/done (API 2026-07-15), else as an item."""
        self._streamed_texts: dict[str, str] = {}
        log.info(
            "Typed text: %s",
            "streamed with input_text.delta/done"
            if self.text_streaming
            else "sent as conversation.item.create (API version before 2026-07-15)",
        )
        self._set_push_to_talk(settings.push_to_talk)
        self.audio_item: str | None = None  # newest agent item whose audio we queued
        self.capture_task: asyncio.Task[None] | None = None
        self._emit = emit
        self._quitting = quitting
        self._greeted = False
        self._cancelled_responses: set[str] = set()
        # MCP approvals (automatic for --auto-approve labels) and the response.create
        # after a tool's result; function calls answered by --tool-command/--tool-output.
        self.approvals = McpApprovals(
            settings.auto_approve, self.send, lambda: self.conversation.response_active
        )
        self.tool_tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "session.updated": self._on_session_updated,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "response.done": self._on_response_done,
            "conversation.item.created": self._on_item_created,
            "error": self._on_error,
            "warning": self._on_warning,
            "rate_limits.updated": self._on_ledger,
        }
        self.alarms = LedgerAlarms(budget=settings.budget)
        self.echo = EchoChoice("server", "not chosen yet")
        self._suspects_told = 0
        self._renewal_started: float | None = None
        self._restore: list[tuple[str, str]] = []
        self._agent_renewal = False

    def notice(self, text: str, severity: Severity = Severity.INFORMATION) -> None:
        """Tell the user something (UI toast / console line) and the technical log."""
        text = self.logs.redactor(text)  # a key or token must never reach the screen
        log.log(_LOG_LEVELS[severity], "%s", text)
        self._emit(Notice(text, severity, at=self.clock()))

    def still_playing(self, item_id: str) -> bool:
        """True while audio of ``item_id`` is queued for the speaker."""
        return item_id == self.audio_item and self.audio.pending_ms() > 0

    def between_turns(self) -> bool:
        """Nobody speaks and nothing plays: a socket can be swapped unnoticed."""
        conv = self.conversation
        return (
            not conv.response_active
            and conv.vad not in (VadState.USER_SPEAKING, VadState.PROCESSING)
            and self.audio.pending_ms() <= 0
        )

    # -- controls --------------------------------------------------------------

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) appending microphone audio; levels keep being measured."""
        self.conversation.muted = muted
        self.audio.muted = muted
        log.info("Microphone %s", "muted" if muted else "live")
        self._emit(StateChanged(self.clock()))

    async def send_text(self, text: str) -> None:
        """Send a typed user message and ask for a response."""
        text = text.strip()
        if not text:
            return
        if self.conn is None:
            self.notice("Not connected: the message was not sent", Severity.WARNING)
            return
        if self.conversation.response_active or self.audio.pending_ms() > 0:
            # Typing over the agent interrupts it, as speaking would.
            await self.barge_in(reason="text message")
        if self.text_streaming:
            # The reply is asked for once the item exists (conversation.item.created): a
            # service that refuses input_text.* then gets the text as an item instead.
            item_id = f"item_typed{secrets.token_hex(8)}"
            self._streamed_texts[item_id] = text
            for delta in text_deltas(text):
                await self.send(ClientEventInputTextDelta(id=item_id, delta=delta))
            await self.send(ClientEventInputTextDone(id=item_id))
            return
        item = UserMessageItem(content=[InputTextContentPart(text=text)])
        await self.send(ClientEventConversationItemCreate(item=item))
        await self.send(ClientEventResponseCreate())

    async def _text_streaming_refused(self) -> None:
        """The service does not know input_text.*: send the text as an item from now on."""
        self.text_streaming = False
        log.info("Typed text: input_text.delta refused; sent as conversation.item.create")
        texts, self._streamed_texts = list(self._streamed_texts.values()), {}
        for text in texts:
            item = UserMessageItem(content=[InputTextContentPart(text=text)])
            await self.send(ClientEventConversationItemCreate(item=item))
            await self.send(ClientEventResponseCreate())

    async def override(self, overrides: SessionOverrides) -> bool:
        """Change the voice, VAD or noise reduction values live with a new session.update;
        True when the echo reference changed too: the input's channels change with it,
        which the service refuses mid-session (``change_in_ec_channels_not_allowed``), so
        the caller renews the session (the conversation is kept)."""
        wanted = overrides.echo_reference
        switch = self._echo_switch(wanted) if wanted else None
        overrides = replace(overrides, echo_reference=None)
        self.overrides = self.overrides.merged(overrides)
        was_open = self.talk.open
        self._set_push_to_talk(self.turn_taking.push_to_talk)
        if was_open and not self.talk.open:
            await self.send(ClientEventInputAudioBufferClear())
        if switch is not None:
            self.echo = switch
            self.audio.echo_reference = switch.reference == "client"
            log.info("%s", switch.line())
            return True
        if self.conn is not None:
            await self.send_session_update()
        return False

    async def echo_check(self) -> None:
        """``--echo-check`` from the dashboard: the microphone is muted meanwhile (the
        probe must not reach the service as speech); the report is a notice and log lines."""
        if self.audio.kind != "sounddevice":
            self.notice("The echo check needs sound devices", Severity.WARNING)
            return
        settings = self.settings
        was_muted = self.conversation.muted
        self.set_muted(True)
        try:
            report = await run_echo_check(
                make_backend(
                    "sounddevice",
                    input_device=settings.input_device,
                    output_device=settings.output_device,
                    block_ms=settings.block_ms,
                    forwarded=settings.pulse_forwarded,
                )
            )
        except AudioError as exc:
            self.notice(f"Echo check failed: {exc}", Severity.WARNING)
            return
        finally:
            self.set_muted(was_muted)
        lines = report.lines()
        for line in lines:
            log.info("Echo check: %s", line)
        self.notice("Echo check: " + " ".join(lines))

    def _echo_switch(self, wanted: str) -> EchoChoice | None:
        """The echo reference to switch to (None: no change, or one that cannot be)."""
        if wanted == self.echo.reference:
            self.notice(f"The echo reference is {wanted} already")
            return None
        if not self.settings.echo_cancellation:
            self.notice("Echo cancellation is off (--no-echo-cancellation)", Severity.WARNING)
            return None
        audio = self.audio
        if wanted == "client" and not (
            audio.supports_echo_reference and audio.has_input and audio.has_output
        ):
            self.notice(
                "The client echo reference needs a microphone and a speaker", Severity.WARNING
            )
            return None
        return EchoChoice("client" if wanted == "client" else "server", "switched live")

    @property
    def turn_taking(self) -> TurnTaking:
        """The turn taking asked of the service now (configured, then edited live)."""
        return self.overrides.turn_taking(self.settings)

    def _set_push_to_talk(self, enabled: bool) -> None:
        self.talk.set_enabled(enabled)
        self.conversation.push_to_talk = enabled
        self.conversation.talking = self.talk.open

    async def tap_to_talk(self) -> TapAction:
        """The talk key: open the microphone (interrupting the agent), or send the turn."""
        busy = self.conversation.response_active or self.audio.pending_ms() > 0
        action = self.talk.tap(agent_busy=busy)
        self.conversation.talking = self.talk.open
        if action == "barge_in_and_open":
            await self.barge_in(reason="push to talk")
        elif action == "send":
            log.info("Push to talk: sending %.0f ms", self.talk.appended_ms)
            await self.send(ClientEventInputAudioBufferCommit())
            await self.send(ClientEventResponseCreate())
        elif action == "too_short":
            await self.send(ClientEventInputAudioBufferClear())
            self.notice("Push to talk: nothing was said, nothing sent")
        self._emit(StateChanged(self.clock()))
        return action

    async def discard_talk(self) -> bool:
        """Esc while talking: throw the turn away (input_audio_buffer.clear)."""
        if not self.talk.discard():
            return False
        self.conversation.talking = False
        await self.send(ClientEventInputAudioBufferClear())
        self._emit(StateChanged(self.clock()))
        return True

    async def barge_in(self, reason: str) -> None:
        """Drop queued audio now, cancel an active response, truncate what was unheard."""
        self.audio.barge_in()
        item_id = self.audio_item
        plan = plan_barge_in(
            self.conversation, item_id, self.audio.played_ms(item_id) if item_id else 0
        )
        if plan.response_id is not None:
            self._cancelled_responses.add(plan.response_id)
            await self.send(ClientEventResponseCancel())
        if plan.truncate_item is not None:
            heard = plan.audio_end_ms
            self.conversation.interrupt(plan.truncate_item, heard)
            await self.send(
                ClientEventConversationItemTruncate(
                    item_id=plan.truncate_item, content_index=0, audio_end_ms=heard
                )
            )
            log.info("Barge-in (%s): truncated %s at %d ms", reason, plan.truncate_item, heard)
            self._emit(StateChanged(self.clock()))
        self.audio_item = None

    # -- sending ---------------------------------------------------------------

    async def send(self, event: ClientEvent) -> bool:
        """Send ``event`` on the current socket and record it; False when it did not go."""
        conn = self.conn
        if conn is None:
            return False
        payload = event.as_dict()
        if not await self._deliver(conn, payload):
            return False
        self.record("sent", payload)
        return True

    async def send_append(self, block: bytes) -> bool:
        """Send a microphone block as ``input_audio_buffer.append`` and record it.

        Fifty times a second, so it skips what :meth:`send` pays per event: the SDK's model
        and its JSON encoder (the text is what ``json.dumps`` makes of the model's
        ``as_dict()``, character for character: ``append_text``; it goes out on the SDK's
        socket with the SDK's error handling: ``send_text``), the events log's line
        (appends are written in runs: see ``record_append``) and the reducer's reading of
        the event (``Conversation.appended``, what ``apply_sent`` does for an append, and
        what a replay of it does).
        """
        conn = self.conn
        if conn is None:
            return False
        audio = base64.b64encode(block).decode("ascii")
        payload = {"audio": audio, "type": APPEND}
        if not await self._deliver(conn, payload, append_text(audio)):
            return False
        self.logs.events.record_append(len(block))
        now = self.clock()
        self.conversation.appended(len(block), now)
        self._emit(EventSent(payload, now))
        return True

    async def _deliver(
        self, conn: VoiceLiveConnection, payload: dict[str, Any], text: str | None = None
    ) -> bool:
        """``payload`` through the SDK's connection (its JSON, or ``text``, the JSON made
        already; its errors); False on failure."""
        try:
            if text is None:
                await conn.send(payload)
            else:
                await send_text(conn, text)
        except Exception as exc:
            log.warning("Send of %s failed: %s", payload.get("type"), short_error(exc))
            return False
        return True

    async def send_session_update(self) -> None:
        config = build_session_config(self.settings, self.overrides, reference=self.echo.reference)
        await self.send(ClientEventSessionUpdate(session=config))
        log.info("Session configuration sent")

    def record(self, direction: Direction, payload: dict[str, Any]) -> None:
        """An event sent or received: events log, conversation state, then observers."""
        self.logs.events.record(direction, payload)
        self.replay(direction, payload)

    def replay(self, direction: Direction, payload: dict[str, Any]) -> None:
        """An event into the conversation state and the observers (no events log)."""
        now = self.clock()
        if direction == "sent":
            self.conversation.apply_sent(payload, now)
            self._emit(EventSent(payload, now))
        else:
            self.conversation.apply_received(payload, now)
            self._emit(EventReceived(payload, now))

    async def pump_capture(self) -> None:
        """Append microphone blocks while connected and not muted."""
        async for block in self.audio.capture():
            if self._quitting.is_set():
                return
            if self.conversation.muted or self.conn is None or not self.talk.may_append():
                continue
            if await self.send_append(block) and self.talk.open:
                self.talk.appended(pcm_ms(len(block)))

    # -- receiving -------------------------------------------------------------

    async def received(self, event: ServerEvent, payload: dict[str, Any]) -> None:
        """A server event: play its audio, record it, then run its handler."""
        kind = payload.get("type", "")
        if isinstance(event, ServerEventResponseAudioDelta):
            # Audio of a response we cancelled may still be in flight: never play it.
            if event.response_id not in self._cancelled_responses:
                self.audio_item = event.item_id
                self.audio.play(event.item_id or "", event.delta)
        self.record("received", payload)
        handler = self._handlers.get(kind)
        if handler is not None:
            await handler(payload)
        await self.approvals.on_event(payload)

    def expiry_ahead(self, seconds_left: float) -> None:
        """The service ends the session soon: say it will be renewed."""
        left = max(0, int(seconds_left))
        self.notice(
            f"Session ends in {left // 60}:{left % 60:02d}; it will be renewed between turns"
        )

    def renewing(self, *, agent: bool) -> None:
        """The session is about to be renewed: start the gap's clock and note what the
        new session must be given (model mode: the conversation's text)."""
        self._renewal_started = self.clock()
        self._agent_renewal = agent
        self._restore = [] if agent else restorable(self.conversation.turns)

    async def _finish_renewal(self) -> None:
        """The renewed session is ready: give it the conversation, measure the gap."""
        started, self._renewal_started = self._renewal_started, None
        if started is None:
            return
        restore, self._restore = self._restore, []
        for n, (role, text) in enumerate(restore, start=1):
            await self.send(ClientEventConversationItemCreate(item=restored_item(n, role, text)))
        conv_id = self.conversation.session.conversation_id
        kept = kept_by(agent=self._agent_renewal, conversation_id=conv_id, replayed=len(restore))
        now = self.clock()
        renewal = self.conversation.renewed((now - started) * 1000, kept, now)
        self.notice(f"Session renewed in {renewal.gap_ms / 1000:.2f} s: {kept}")

    async def _on_session_updated(self, payload: dict[str, Any]) -> None:
        session = payload.get("session") or {}
        log.info("Session ready: %s", session.get("id"))
        await self._finish_renewal()
        if not self._greeted:
            self._greeted = True
            if self.settings.greeting:
                log.info("Sending proactive greeting request")
                await self.send(ClientEventResponseCreate())
        if self.capture_task is None:
            self.capture_task = asyncio.ensure_future(self.pump_capture())
            log.info("Started audio capture")
        self._emit(StateChanged(self.clock()))

    async def _on_speech_started(self, payload: dict[str, Any]) -> None:
        log.info("User started speaking - stopping playback")
        item_id = self.audio_item
        if item_id is not None and self.audio.pending_ms() > 0:
            # The agent is still heard: its transcript tells whether it was the agent itself.
            self.conversation.speech_over_playback(
                ident(payload.get("item_id")), item_id, self.audio.played_ms(item_id)
            )
        await self.barge_in(reason="user speech")

    async def _on_user_transcript(self, payload: dict[str, Any]) -> None:
        watch = self.conversation.echo
        if watch.suspected == self._suspects_told:
            return
        self._suspects_told = watch.suspected
        log.warning(
            "Suspected self-interruption %d: the agent's own voice, heard by the microphone, "
            "cut its reply (%s; item %s)",
            watch.suspected,
            self.echo.line(),
            shown(watch.suspects[-1]),
        )
        if watch.suspected not in (1, 5, 25, 125):
            return  # the status bar counts them all; the advice is not repeated each time
        hint = (
            "try voicelive-tui --echo-check, a headset or a lower volume"
            if self.echo.reference == "client"
            else "try --echo-reference client, voicelive-tui --echo-check or a headset"
        )
        self.notice(
            f"The agent seems to have interrupted itself ({watch.suspected} so far: its voice "
            f"reached the microphone): {hint}",
            Severity.WARNING,
        )

    async def _on_ledger(self, payload: dict[str, Any]) -> None:
        """Spending or limits moved: warn once of a budget share or a limit running low."""
        for text in self.alarms.check(self.conversation):
            self.notice(text, Severity.WARNING)

    async def _on_item_created(self, payload: dict[str, Any]) -> None:
        item_id = str((payload.get("item") or {}).get("id"))
        if self._streamed_texts.pop(item_id, None) is not None:
            await self.send(ClientEventResponseCreate())  # the streamed text is an item now

    async def _on_response_done(self, payload: dict[str, Any]) -> None:
        log.info("Response complete")
        await self._on_ledger(payload)
        if self.settings.tools and (calls := function_calls(payload)):
            answer = answer_function_calls(
                calls,
                command=self.settings.tool_command,
                fixed_output=self.settings.tool_output,
                send=self.send,
                notice=self.notice,
            )
            task = asyncio.ensure_future(answer)
            self.tool_tasks.add(task)
            task.add_done_callback(self.tool_tasks.discard)

    async def _on_warning(self, payload: dict[str, Any]) -> None:
        """The service's warnings (e.g. a setting it ignores): shown, not only logged."""
        message = str((payload.get("warning") or {}).get("message", "")) or "(no message)"
        self.notice(f"Voice Live warning: {message}", Severity.WARNING)

    async def _on_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error") or {}
        message = error.get("message", "")
        if self.text_streaming and "input_text." in str(message):
            await self._text_streaming_refused()
        elif is_benign_cancel_error(message):
            log.debug("Benign cancellation error: %s", message)
        elif str(error.get("param") or "").startswith("session"):
            # A setting the service refused (a live edit): the user must see why.
            refused = displayable(f"{error.get('param')}: {message}", one_line=True)
            self.notice(f"Voice Live refused {refused}", Severity.ERROR)
        else:
            log.error("VoiceLive error: %s", message)

    async def start_audio(self) -> None:
        """Start the audio backend, text-only with a notice when it cannot start; choose
        the echo reference it can give (the session asks for it)."""
        loop = asyncio.get_running_loop()
        audio = self.audio
        echo = choose_echo_reference(
            self.settings,
            supports_client=audio.supports_echo_reference,
            output_latency_s=audio.output_latency_s,
        )
        audio.echo_reference = echo.reference == "client"
        self.audio = await start_backend(audio, loop, self)
        if self.audio is not audio or not (self.audio.has_input and self.audio.has_output):
            if echo.reference == "client":
                echo = EchoChoice("server", "the sound devices did not open")
            self.audio.echo_reference = False  # stereo with no speaker would be useless
        self.echo = echo
        if self.audio.notice:
            self.notice(self.audio.notice, Severity.WARNING)
        log.info("Audio: %s", self.audio.describe())
        log.info("%s", echo.line())

    async def stop_audio(self) -> None:
        """Stop the audio backend and log its counters."""
        try:
            await self.audio.stop()
        except Exception:
            log.exception("Stopping audio failed")
        stats = self.audio.stats()
        if stats:
            log.info("Audio stats: %s", " ".join(f"{k}={v}" for k, v in stats.items()))

    async def reopen_audio(self) -> None:
        """Try the sound devices again after a fault (the dashboard's r key)."""
        try:
            await self.audio.reopen()
        except AudioError as exc:
            self.notice(f"Audio still unavailable: {exc}", Severity.WARNING)
            return
        self.notice(f"Audio back: {self.audio.describe()}")

    def skip_frame(self, raw: bytes, problem: str) -> None:
        """A frame that is not a server event: counted, logged, and the session goes on."""
        self.conversation.received[MALFORMED] += 1
        self.logs.events.record_skipped(raw, problem)
        count = self.conversation.received[MALFORMED]
        if count in (1, 10, 100, 1000, 10000):
            self.notice(
                f"Skipped {count} frame(s) that are not server events: {problem}", Severity.WARNING
            )

    # -- audio feedback (AudioListener) ----------------------------------------

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        self.conversation.playback_started(item_id, monotonic_time)
        # Not a wire event, but what --replay needs to time the turn: a "local" line.
        wall = time.time() + (monotonic_time - time.monotonic())
        self.logs.events.record("local", {"type": PLAYBACK_STARTED, "item_id": item_id}, wall)
        self._emit(StateChanged(self.clock()))

    def on_audio_fault(self, message: str) -> None:
        log.error("Audio device lost: %s", message)
        self._emit(AudioLost(message, self.clock(), reconnecting=self.audio.recovering))

    def on_audio_restored(self, message: str) -> None:
        self.notice(f"Audio back: {message}")  # (notice writes the technical log's line)
        self._emit(StateChanged(self.clock()))

    def on_device_changed(self, message: str, *, switched: bool) -> None:
        if message:
            self.notice(message)  # (and the technical log's line)
        if switched:
            self.conversation.device_switched(self.clock(), playing=self.audio.pending_ms() > 0)
            self._emit(StateChanged(self.clock()))
