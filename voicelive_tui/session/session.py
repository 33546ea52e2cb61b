"""The Voice Live worker: connect, configure, receive, reconnect.

One :class:`VoiceLiveSession` runs for the life of the app on the asyncio loop. It owns
the connection and its retries; what is said over it (sending, the event handlers,
barge-in, capture) is its :class:`~voicelive_tui.session.dialogue.Dialogue`, to which most of
the front ends' controls (mute, interrupt, type, settings) hand over. Observers (the
conversation log first, then the dashboard or the console) hear every
:mod:`~voicelive_tui.updates` update on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from azure.ai.voicelive.aio import ConnectionClosed, VoiceLiveConnection
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.config import Settings
from voicelive_tui.config.turns import TurnTaking
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.logs import RunLogs
from voicelive_tui.session.auth import (
    AuthError,
    CachedTokenCredential,
    Credential,
)
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.session.dialogue import Dialogue
from voicelive_tui.session.frames import close_code, parse_server_event
from voicelive_tui.session.handshake import Quit, open_connection
from voicelive_tui.session.push_to_talk import TapAction
from voicelive_tui.session.reconnect import (
    START_ATTEMPTS,
    ConnectFailed,
    RetryPolicy,
    close_reason,
    failure_reason,
    handshake_status,
    short_error,
)
from voicelive_tui.session.service_config import SessionOverrides
from voicelive_tui.session.tool_calls import McpApprovals
from voicelive_tui.session.upkeep import (
    keep_tokens_fresh,
    log_heard_replies,
    renew_before_expiry,
    sample_rtt,
)
from voicelive_tui.updates import (
    Closed,
    Observer,
    Outage,
    PlannedReconnect,
    Severity,
    StateChanged,
    Update,
)

log = logging.getLogger(__name__)

SESSION_RENEWAL = "session renewal"
RECONNECT_REQUESTED = "reconnect requested"
RECEIVE_SLICE_S = 0.01
"""The longest the receive loop handles buffered events in a row; then the rest of the
app has the loop as long (a flood gets half the loop, keys and frames the other half)."""


class VoiceLiveSession:
    """The client side of one Voice Live conversation, across reconnects."""

    def __init__(
        self,
        settings: Settings,
        *,
        endpoint: str,
        credential: Credential,
        audio: AudioBackend,
        logs: RunLogs,
        token_credential: AsyncTokenCredential | None = None,
        clock: Callable[[], float] = time.monotonic,
        start_attempts: int = START_ATTEMPTS,
    ) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self.credential = credential
        self.token_credential = token_credential
        self.logs = logs
        self.clock = clock
        self.start_attempts = start_attempts
        self._quit = asyncio.Event()
        self._reconnect_now = asyncio.Event()
        self.dialogue = Dialogue(
            settings, audio=audio, logs=logs, emit=self._emit, quitting=self._quit, clock=clock
        )
        # The conversation log is written first, before any screen hears of an event.
        self._transcript = ConversationLogWriter(
            logs.conversation, self.conversation, self.dialogue.still_playing
        )
        self._observers: list[Observer] = [self._transcript]
        self.retry = RetryPolicy(max_s=settings.retry_max, cap=settings.retry_cap)
        self.tokens = (
            token_credential if isinstance(token_credential, CachedTokenCredential) else None
        )
        self._close_cause: str | None = None
        self._connections = 0  # successful handshakes so far
        self._connected_wall = 0.0
        self._told_keeps_closing = False
        self._connection_tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        if isinstance(credential, AzureKeyCredential):
            logs.add_secret(credential.key)
        logs.add_secret(settings.api_key)
        logs.add_secret(settings.agent_connection_string)

    # -- observers -------------------------------------------------------------

    def subscribe(self, observer: Observer) -> None:
        """Call ``observer`` with every update, on the loop thread."""
        self._observers.append(observer)

    def _emit(self, update: Update) -> None:
        for observer in list(self._observers):
            try:
                observer(update)
            except Exception:  # an observer's bug must not end the session
                log.exception("Observer failed on %s", type(update).__name__)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` beside the session; cancelled and awaited at close."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def conversation(self) -> Conversation:
        return self.dialogue.conversation

    @property
    def audio(self) -> AudioBackend:
        return self.dialogue.audio

    @property
    def _conn(self) -> VoiceLiveConnection | None:
        return self.dialogue.conn

    @_conn.setter
    def _conn(self, conn: VoiceLiveConnection | None) -> None:
        self.dialogue.conn = conn

    def notice(self, text: str, severity: Severity = Severity.INFORMATION) -> None:
        """Tell the user something (UI toast / console line) and the technical log."""
        self.dialogue.notice(text, severity)

    @property
    def approvals(self) -> McpApprovals:
        """MCP approvals: what answers them, and the labels approved without asking."""
        return self.dialogue.approvals

    # -- controls: what the front ends ask (mute, interrupt, type, reconnect, quit) -

    @property
    def muted(self) -> bool:
        return self.conversation.muted

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) appending microphone audio; levels keep being measured."""
        self.dialogue.set_muted(muted)

    def toggle_mute(self) -> bool:
        self.set_muted(not self.muted)
        return self.muted

    def quit(self) -> None:
        """End run() cleanly: close the socket, stop audio, flush logs."""
        self._close_cause = "quit"
        self._quit.set()
        self._reconnect_now.set()
        conn = self._conn
        if conn is not None:
            self._spawn(self._close_quietly(conn))

    def reconnect(self) -> None:
        """Drop the current socket (if any) and connect again at once; a faulted audio
        device is retried too."""
        if self.audio.faulted:
            self._spawn(self.reopen_audio())
        conn = self._begin_planned_close(RECONNECT_REQUESTED)
        if conn is not None:
            self._spawn(self._close_quietly(conn))

    def _begin_planned_close(self, cause: str) -> VoiceLiveConnection | None:
        conn = self._conn
        if conn is not None:
            self._close_cause = cause
        self._reconnect_now.set()
        return conn

    async def reopen_audio(self) -> None:
        """Try the sound devices again after a fault (the dashboard's r key)."""
        await self.dialogue.reopen_audio()

    async def interrupt(self) -> None:
        """The interrupt key: silence the agent now, as a spoken barge-in would."""
        await self.dialogue.barge_in(reason="interrupt key")

    async def send_text(self, text: str) -> None:
        """Send a typed user message and ask for a response."""
        await self.dialogue.send_text(text)

    async def echo_check(self) -> None:
        """Play a probe and say how much of the speaker the microphone hears (a notice)."""
        await self.dialogue.echo_check()

    async def override(self, overrides: SessionOverrides) -> None:
        """Change the voice, VAD or noise reduction values live with a new session.update;
        a new echo reference renews the session (its input channels change), keeping the
        conversation as a renewal before expiry does."""
        if await self.dialogue.override(overrides):
            self.notice(
                f"{self.dialogue.echo.line()}: the input's channels change, which the "
                "service allows only in a new session; renewing it, the conversation is kept"
            )
            self.dialogue.renewing(agent=self.settings.mode != "model")
            conn = self._begin_planned_close(SESSION_RENEWAL)
            if conn is not None:
                await self._close_quietly(conn)

    @property
    def turn_taking(self) -> TurnTaking:
        """The turn taking asked of the service now (configured, then edited live)."""
        return self.dialogue.turn_taking

    async def tap_to_talk(self) -> TapAction:
        """Push to talk's key: open the microphone, or send what was said."""
        return await self.dialogue.tap_to_talk()

    async def discard_talk(self) -> bool:
        """Push to talk's Esc: throw away what was said since the microphone opened."""
        return await self.dialogue.discard_talk()

    # -- run -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until quit(); raises AuthError or ConnectFailed."""
        handshake_failures = 0
        token_retried = False
        try:
            # Inside: a run cancelled while the devices open still stops them (an unstopped
            # WAV writer was left to the garbage collector, which closed its file first).
            await self.dialogue.start_audio()
            while not self._quit.is_set():
                self.conversation.connecting()
                self._emit(StateChanged(self.clock()))
                self._close_cause = None
                connected_before = self._connections
                try:
                    reason = await self._connect_once()
                except Quit:
                    break
                except Exception as exc:
                    if self._quit.is_set():
                        break
                    log.warning("Connection attempt failed: %s", short_error(exc), exc_info=True)
                    if not token_retried and self._token_rejected(exc):
                        # The service checks the token at the handshake: one fresh token
                        # before giving up with "authentication failed".
                        token_retried = True
                        log.warning("Token rejected at reconnect; fetching a fresh one")
                        self.tokens.invalidate()  # type: ignore[union-attr]
                        continue
                    handshake_failures += 1
                    try:
                        reason = failure_reason(
                            exc,
                            settings=self.settings,
                            endpoint=self.endpoint,
                            ever_connected=self._connections > 0,
                            attempts=handshake_failures,
                            start_attempts=self.start_attempts,
                        )
                    except (AuthError, ConnectFailed) as fatal:
                        log.error("Giving up: %s", fatal)  # the run's log says why it ended
                        raise
                finally:
                    self._conn = None
                    self._stop_connection_tasks()
                if self._quit.is_set():
                    break
                connected = self._connections > connected_before
                if connected:
                    handshake_failures, token_retried = 0, False
                planned = self._close_cause
                if planned is not None and connected:
                    self.retry.ended(self.clock())
                    self.retry.failures = 0  # asked for, not a failure
                    self._record_planned_reconnect(planned)
                    continue
                delay = self.retry.ended(self.clock())
                self._record_outage(reason or "connection closed", delay, connected=connected)
                await self._wait_before_retry(delay)
        finally:
            await self._shutdown()

    def _token_rejected(self, exc: BaseException) -> bool:
        return (
            self.tokens is not None
            and self._connections > 0
            and isinstance(exc, VoiceLiveConnectionError)
            and handshake_status(exc) == 401
        )

    async def _wait_before_retry(self, delay: float) -> None:
        self._reconnect_now.clear()
        try:
            await asyncio.wait_for(self._reconnect_now.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass
        self._reconnect_now.clear()

    def _record_outage(self, reason: str, delay: float, *, connected: bool) -> None:
        """A connection was lost (``connected``) or an attempt failed; retry in ``delay``."""
        now = self.clock()
        self.conversation.connection_lost(reason, delay, now, connected=connected)
        what = "Connection lost" if connected else "Could not connect"
        log.warning("%s (%s); reconnecting in %.1f s", what, reason, delay)
        self._emit(Outage(reason, delay, connected=connected, at=now))
        self._emit(StateChanged(now))
        if self.retry.keeps_closing and not self._told_keeps_closing:
            self._told_keeps_closing = True
            verb = "keeps closing the connection" if connected else "keeps failing"
            self.notice(
                f"The server {verb} ({self.retry.failures} times in a row; last: {reason}). "
                f"Still retrying, every {self.settings.retry_max:g} s at most.",
                Severity.ERROR,
            )
        elif not self.retry.keeps_closing:
            self._told_keeps_closing = False

    def _record_planned_reconnect(self, cause: str) -> None:
        """The r key or a session renewal closed the socket: connect again at once."""
        now = self.clock()
        self.conversation.end_connection(cause)
        log.info("Reconnecting: %s", cause)
        self._emit(PlannedReconnect(cause, now))
        self._emit(StateChanged(now))

    async def _connect_once(self) -> str:
        conn = await open_connection(
            self.settings,
            endpoint=self.endpoint,
            credential=self.credential,
            token_credential=self.token_credential,
            tokens=self.tokens,
            logs=self.logs,
            conversation_id=self.conversation.session.conversation_id,
            quitting=self._quit,
        )
        try:
            self._conn = conn
            self._connections += 1
            self._connected_wall = time.time()
            self.retry.connected(self.clock())
            if self._quit.is_set():
                return "quit"
            self._reconnect_now.clear()
            log.info("Connected; setting up the session")
            self._start_connection_tasks()
            await self.dialogue.send_session_update()
            return await self._receive_loop(conn)
        finally:
            self._conn = None
            await self._close_quietly(conn)

    # -- while connected: fresh tokens, heard replies, renewal before expiry ----------

    def _start_connection_tasks(self) -> None:
        tasks = [log_heard_replies(self._transcript), self._renew_before_expiry()]
        if self._conn is not None:
            tasks.append(sample_rtt(self._conn, self.conversation))
        if self.tokens is not None:
            tasks.append(keep_tokens_fresh(self.tokens))
        self._connection_tasks = [asyncio.ensure_future(t) for t in tasks]

    def _stop_connection_tasks(self) -> None:
        for task in self._connection_tasks:
            task.cancel()
        self._connection_tasks.clear()

    async def _renew_before_expiry(self) -> None:
        await renew_before_expiry(
            self.conversation,
            self._connected_wall,
            self.dialogue.between_turns,
            warn=self.dialogue.expiry_ahead,
        )
        self.dialogue.renewing(agent=self.settings.mode != "model")
        conn = self._begin_planned_close(SESSION_RENEWAL)
        if conn is not None:
            await self._close_quietly(conn)

    async def _receive_loop(self, conn: VoiceLiveConnection) -> str:
        """Receive until the socket closes; a frame that is not an event is skipped.

        A read of a frame already buffered returns without giving the loop a turn, so a
        server that sends as fast as we read would hold the loop (keys, frames, quit):
        after :data:`RECEIVE_SLICE_S` of events in a row the receive loop pauses as long,
        and a quit asked for meanwhile ends it before the next frame.
        """
        slice_started = time.monotonic()
        while True:
            if self._quit.is_set():
                return "quit"
            if time.monotonic() - slice_started > RECEIVE_SLICE_S:
                await asyncio.sleep(RECEIVE_SLICE_S)
                slice_started = time.monotonic()
                continue
            try:
                raw = await conn.recv_bytes()
            except ConnectionClosed as exc:
                if self._quit.is_set():
                    return "quit"
                if self._close_cause is not None:
                    return self._close_cause
                code, error = close_code(conn, exc)
                return close_reason(code, error, heartbeat=self.settings.heartbeat)
            except Exception as exc:  # an unexpected SDK error must not kill the session
                log.exception("Receive failed")
                return short_error(exc)
            if not raw:
                continue  # the SDK's answer to a frame type it does not handle
            event, problem = parse_server_event(raw)
            if event is None:
                self.dialogue.skip_frame(raw, problem)
                continue
            await self.dialogue.received(event, event.as_dict())

    async def _close_quietly(self, conn: VoiceLiveConnection) -> None:
        try:
            await conn.close()
        except Exception:
            log.debug("Close failed", exc_info=True)

    async def _shutdown(self) -> None:
        background = [*self._background, *self.dialogue.tool_tasks, self.dialogue.capture_task]
        tasks = [t for t in background if t is not None and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
            self._stop_connection_tasks()
            if self._quit.is_set():
                self.conversation.cut_reply("quit")
                item = self.dialogue.audio_item
                if item and self.audio.pending_ms() > 0:
                    self.conversation.interrupt_playback(item, "quit")
            self.conversation.closed()
            self._emit(Closed(self.clock()))
            self._emit(StateChanged(self.clock()))
        finally:  # cancelled meanwhile too: the devices and files are let go
            await self.dialogue.stop_audio()
            self.logs.flush()
            log.info("Session closed")
