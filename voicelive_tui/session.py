"""The Voice Live worker: connect, configure, receive, barge in, reconnect.

One :class:`VoiceLiveSession` runs for the life of the app on the asyncio loop. It owns
the connection, feeds :class:`~voicelive_tui.conversation.Conversation`, writes the
conversation and events logs, and tells observers (dashboard, console) about every
event sent or received.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from azure.ai.voicelive.aio import ConnectionClosed, VoiceLiveConnection, connect
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.ai.voicelive.models import (
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioBufferAppend,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionUpdate,
    InputTextContentPart,
    ServerEvent,
    UserMessageItem,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.audio.base import AudioBackend, AudioError
from voicelive_tui.audio.factory import start_backend
from voicelive_tui.auth import (
    AI_SCOPE,
    AuthError,
    CachedTokenCredential,
    Credential,
    fetch_agent_access_token,
)
from voicelive_tui.config import Settings
from voicelive_tui.conversation import Conversation, VadState
from voicelive_tui.logs import RunLogs
from voicelive_tui.protocol import build_session_config, connect_kwargs, is_benign_cancel_error
from voicelive_tui.reconnect import (
    CLIENT_MAX_MSG_BYTES,
    START_ATTEMPTS,
    ConnectFailed,
    HandshakeTimeout,
    RetryPolicy,
    close_reason,
    failure_reason,
    handshake_status,
    short_error,
)
from voicelive_tui.tools import McpApprovals, answer_function_calls, function_calls
from voicelive_tui.transcript import ConversationLogWriter

log = logging.getLogger(__name__)


RECONNECT_REQUESTED = "reconnect requested"
SESSION_RENEWAL = "session renewal"
MALFORMED = "<malformed>"
CLOSE_TIMEOUT_S = 1.0
RENEW_MARGIN_S = 60.0
"""Renew a session this long before it expires (a quarter of a shorter lifetime)."""
TOKEN_RETRY_S = 10.0
PLAYBACK_CHECK_S = 0.1
"""How long a close waits for the server's close frame (a frozen server sends none)."""
T = TypeVar("T")


class _Quit(Exception):
    """quit() was called while connecting."""


def _client_session_of(task: asyncio.Future[Any]) -> Any:
    """The aiohttp ClientSession a pending SDK handshake has opened, if any.

    The SDK's ``__aenter__`` does not close its ClientSession when cancelled (it catches
    only aiohttp errors), which leaks a socket and prints "Unclosed client session".
    """
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    frame = getattr(coro, "cr_frame", None)
    session = frame.f_locals.get("session") if frame is not None else None
    return session if isinstance(session, aiohttp.ClientSession) else None


async def _close_result(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        try:
            await close()
        except Exception:  # noqa: BLE001 - a late result we no longer want
            log.debug("Closing a late result failed", exc_info=True)


def parse_server_event(raw: bytes) -> tuple[ServerEvent | None, str]:
    """A frame as a typed server event, or (None, why it is not one)."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not JSON ({short_error(exc)})"
    if not isinstance(payload, dict):
        return None, f"JSON {type(payload).__name__}, not an object"
    if not isinstance(payload.get("type"), str):
        return None, "an object with no 'type'"
    try:
        # What the SDK's recv() does, minus its failure on non-objects.
        event = ServerEvent._deserialize(payload, [])  # noqa: SLF001
    except Exception as exc:  # noqa: BLE001 - any model error is a bad frame
        return None, f"not a valid {payload['type']} event ({short_error(exc)})"
    return event, ""


@dataclass(frozen=True)
class Update:
    """What observers hear: an event sent/received, a state change or a notice."""

    # "sent", "received", "state", "notice", "outage" (a connection was lost),
    # "connect_failed" (an attempt failed), "reconnect" (asked for), "closed"
    kind: str
    event: dict[str, Any] | None = None
    text: str = ""
    severity: str = "information"  # information, warning, error
    at: float = 0.0


Observer = Callable[[Update], None]


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
        self.audio = audio
        self.logs = logs
        self.clock = clock
        self.conversation = Conversation()
        self.start_attempts = start_attempts
        # The conversation log is written first, before any screen hears of an event.
        self._transcript = ConversationLogWriter(
            logs.conversation, self.conversation, self._still_playing
        )
        self.approvals = McpApprovals(
            settings.auto_approve, self._send, lambda: self.conversation.response_active
        )
        self._observers: list[Observer] = [self._transcript]
        self._conn: VoiceLiveConnection | None = None
        self._quit = asyncio.Event()
        self._reconnect_now = asyncio.Event()
        self._greeted = False
        self._capture_task: asyncio.Task[None] | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._cancelled_responses: set[str] = set()
        self._audio_item: str | None = None  # newest agent item whose audio we queued
        self._voice = settings.voice
        self.retry = RetryPolicy(max_s=settings.retry_max, cap=settings.retry_cap)
        self.tokens = (
            token_credential if isinstance(token_credential, CachedTokenCredential) else None
        )
        self._close_cause: str | None = None
        self._connections = 0  # successful handshakes so far
        self._connected_wall = 0.0
        self._told_keeps_closing = False
        self._connection_tasks: list[asyncio.Task[None]] = []
        self._vad = (settings.vad_threshold, settings.vad_prefix_ms, settings.vad_silence_ms)
        if isinstance(credential, AzureKeyCredential):
            logs.add_secret(credential.key)
        logs.add_secret(settings.api_key)
        logs.add_secret(settings.agent_connection_string)

    def _still_playing(self, item_id: str) -> bool:
        """True while audio of ``item_id`` is queued for the speaker."""
        return item_id == self._audio_item and self.audio.pending_ms() > 0

    # -- observers -------------------------------------------------------------

    def subscribe(self, observer: Observer) -> None:
        """Call ``observer`` with every Update, on the loop thread."""
        self._observers.append(observer)

    def _emit(self, update: Update) -> None:
        for observer in list(self._observers):
            try:
                observer(update)
            except Exception:  # an observer's bug must not end the session
                log.exception("Observer failed on %s", update.kind)

    def notice(self, text: str, severity: str = "information") -> None:
        """Tell the user something (UI toast / console line) and the technical log."""
        text = self.logs.redactor(text)  # a key or token must never reach the screen
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(severity, logging.INFO)
        log.log(level, "%s", text)
        self._emit(Update("notice", text=text, severity=severity, at=self.clock()))

    # -- controls --------------------------------------------------------------

    @property
    def muted(self) -> bool:
        return self.conversation.muted

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) appending microphone audio; levels keep being measured."""
        self.conversation.muted = muted
        self.audio.muted = muted
        log.info("Microphone %s", "muted" if muted else "live")
        self._emit(Update("state", at=self.clock()))

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
            asyncio.ensure_future(self._close_quietly(conn))

    def reconnect(self) -> None:
        """Drop the current socket (if any) and connect again at once; a faulted audio
        device is retried too."""
        if getattr(self.audio, "faulted", False):
            asyncio.ensure_future(self.reopen_audio())
        self._begin_planned_close(RECONNECT_REQUESTED)

    def _begin_planned_close(self, cause: str) -> None:
        if self._conn is not None:
            self._close_cause = cause
        self._reconnect_now.set()
        conn = self._conn
        if conn is not None:
            asyncio.ensure_future(self._close_quietly(conn))

    async def interrupt(self) -> None:
        """The interrupt key: silence the agent now, as a spoken barge-in would."""
        await self._barge_in(reason="interrupt key")

    async def send_text(self, text: str) -> None:
        """Send a typed user message and ask for a response."""
        text = text.strip()
        if not text:
            return
        if self._conn is None:
            self.notice("Not connected: the message was not sent", "warning")
            return
        if self.conversation.response_active or self.audio.pending_ms() > 0:
            # Typing over the agent interrupts it, as speaking would.
            await self._barge_in(reason="text message")
        item = UserMessageItem(content=[InputTextContentPart(text=text)])
        await self._send(ClientEventConversationItemCreate(item=item))
        await self._send(ClientEventResponseCreate())

    async def update_voice_and_vad(
        self,
        *,
        voice: str | None = None,
        threshold: float | None = None,
        prefix_ms: int | None = None,
        silence_ms: int | None = None,
    ) -> None:
        """Change the voice or VAD values live with a new session.update."""
        if voice:
            self._voice = voice
        t, p, s = self._vad
        self._vad = (
            t if threshold is None else threshold,
            p if prefix_ms is None else prefix_ms,
            s if silence_ms is None else silence_ms,
        )
        if self._conn is not None:
            await self._send_session_update()

    # -- run -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until quit(); raises AuthError or ConnectFailed."""
        handshake_failures = 0
        token_retried = False
        await self._start_audio()
        try:
            while not self._quit.is_set():
                self.conversation.connecting()
                self._emit(Update("state", at=self.clock()))
                self._close_cause = None
                connected_before = self._connections
                try:
                    reason = await self._connect_once()
                except _Quit:
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

    async def _start_audio(self) -> None:
        self.audio = await start_backend(self.audio, asyncio.get_running_loop(), self)
        if self.audio.notice:
            self.notice(self.audio.notice, "warning")
        log.info("Audio: %s", self.audio.describe())

    async def reopen_audio(self) -> None:
        """Try the sound devices again after a fault (the dashboard's r key)."""
        try:
            await self.audio.reopen()
        except AudioError as exc:
            self.notice(f"Audio still unavailable: {exc}", "warning")
            return
        self.notice(f"Audio back: {self.audio.describe()}")

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
        self._emit(
            Update(
                "outage" if connected else "connect_failed",
                text=f"{reason}; reconnecting in {delay:.1f} s",
                at=now,
            )
        )
        self._emit(Update("state", text=reason, at=now))
        if self.retry.keeps_closing and not self._told_keeps_closing:
            self._told_keeps_closing = True
            verb = "keeps closing the connection" if connected else "keeps failing"
            self.notice(
                f"The server {verb} ({self.retry.failures} times in a row; last: {reason}). "
                f"Still retrying, every {self.settings.retry_max:g} s at most.",
                "error",
            )
        elif not self.retry.keeps_closing:
            self._told_keeps_closing = False

    def _record_planned_reconnect(self, cause: str) -> None:
        """The r key or a session renewal closed the socket: connect again at once."""
        now = self.clock()
        self.conversation.end_connection(cause, now)
        log.info("Reconnecting: %s", cause)
        self._emit(Update("reconnect", text=cause, at=now))
        self._emit(Update("state", at=now))

    async def _until_quit(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Await ``awaitable`` unless quit() comes first (raise _Quit) or ``timeout`` passes
        (raise asyncio.TimeoutError); either way it is cancelled."""
        task = asyncio.ensure_future(awaitable)
        quitting = asyncio.ensure_future(self._quit.wait())
        try:
            done, _ = await asyncio.wait(
                {task, quitting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            quitting.cancel()
        if task in done:
            return task.result()
        session = _client_session_of(task)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if session is not None:  # the SDK leaves it open when its handshake is cancelled
            await session.close()
        if not task.cancelled() and task.exception() is None:
            await _close_result(task.result())  # it finished as we gave up on it
        if self._quit.is_set():
            raise _Quit
        raise asyncio.TimeoutError

    async def _connect_once(self) -> str:
        token = None
        if self.settings.mode == "legacy-agent":
            if self.token_credential is None:
                raise AuthError(
                    "legacy agent mode needs an Entra ID credential for the agent access token"
                )
            token = await self._until_quit(
                fetch_agent_access_token(self.token_credential, self.settings)
            )
            self.logs.add_secret(token)
            log.info("Obtained agent access token")
        if self.tokens is not None and not self.settings.uses_api_key:
            # Fetched here, not inside the handshake: a slow `az` is not a silent server.
            access = await self._until_quit(self.tokens.get_token(AI_SCOPE))
            self.logs.add_secret(access.token)
        kwargs = connect_kwargs(
            self.settings,
            endpoint=self.endpoint,
            credential=self.credential,
            conversation_id=self.conversation.session.conversation_id,
            agent_access_token=token,
        )
        kwargs["connection_options"] = {
            "heartbeat": self.settings.heartbeat,
            "max_msg_size": CLIENT_MAX_MSG_BYTES,
            "close_timeout": CLOSE_TIMEOUT_S,
        }
        log.info("Connecting to Voice Live (%s) at %s", self.settings.mode_label(), self.endpoint)
        manager = connect(**kwargs)
        timeout = self.settings.handshake_timeout
        try:
            conn = await self._until_quit(manager.__aenter__(), timeout)
        except asyncio.TimeoutError:
            raise HandshakeTimeout(
                f"the server did not answer the WebSocket handshake within {timeout:g} s"
            ) from None
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
            await self._send_session_update()
            return await self._receive_loop(conn)
        finally:
            self._conn = None
            await self._close_quietly(conn)

    # -- while connected: fresh tokens, and a new session before this one expires ------

    def _start_connection_tasks(self) -> None:
        if self.tokens is not None:
            self._connection_tasks.append(asyncio.ensure_future(self._keep_tokens_fresh()))
        self._connection_tasks.append(asyncio.ensure_future(self._renew_before_expiry()))
        self._connection_tasks.append(asyncio.ensure_future(self._log_heard_replies()))

    def _stop_connection_tasks(self) -> None:
        for task in self._connection_tasks:
            task.cancel()
        self._connection_tasks.clear()

    async def _keep_tokens_fresh(self) -> None:
        """Refresh tokens before they expire, so the next handshake has a valid one."""
        tokens = self.tokens
        assert tokens is not None
        while True:
            wait = tokens.next_refresh_in()
            await asyncio.sleep(max(TOKEN_RETRY_S / 10, wait if wait is not None else 60.0))
            try:
                await tokens.refresh_due()
            except Exception as exc:  # noqa: BLE001 - try again; the handshake will tell
                log.warning("Token refresh failed: %s", short_error(exc))
                await asyncio.sleep(TOKEN_RETRY_S)

    async def _log_heard_replies(self) -> None:
        """A reply's line is written once its audio finished playing (see transcript)."""
        while True:
            await asyncio.sleep(PLAYBACK_CHECK_S)
            if self._transcript.holding:
                self._transcript.flush_heard()

    async def _renew_before_expiry(self) -> None:
        """Reconnect between turns before ``session.expires_at`` (agent conversations
        continue through the conversation id), so a long talk never ends by surprise."""
        while True:
            expires_at = self.conversation.session.expires_at
            if expires_at is None:
                await asyncio.sleep(1.0)
                continue
            lifetime = expires_at - self._connected_wall
            if lifetime <= 0:  # a clock far off ours: renewing would only loop
                log.warning("session.expires_at is already past; not renewing early")
                return
            margin = min(RENEW_MARGIN_S, lifetime / 4)
            wait = expires_at - margin - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))  # expires_at may change: look again
                continue
            if self._between_turns():
                log.info("Session expires in %.0f s: renewing it now", expires_at - time.time())
                self._begin_planned_close(SESSION_RENEWAL)
                conn = self._conn
                if conn is not None:
                    await self._close_quietly(conn)
                return
            await asyncio.sleep(0.1)

    def _between_turns(self) -> bool:
        conv = self.conversation
        return (
            not conv.response_active
            and conv.vad not in (VadState.USER_SPEAKING, VadState.PROCESSING)
            and self.audio.pending_ms() <= 0
        )

    async def _receive_loop(self, conn: VoiceLiveConnection) -> str:
        """Receive until the socket closes; a frame that is not an event is skipped."""
        while True:
            try:
                raw = await conn.recv_bytes()
            except ConnectionClosed as exc:
                if self._quit.is_set():
                    return "quit"
                if self._close_cause is not None:
                    return self._close_cause
                ws = getattr(conn, "_connection", None)  # aiohttp's socket: the real cause
                code = getattr(ws, "close_code", None) or exc.code
                error = ws.exception() if ws is not None else None
                if code == 1000 and str(exc.reason) == "Connection closed":
                    code = 1006  # the SDK's words for a socket that ended without a frame
                return close_reason(code, error, heartbeat=self.settings.heartbeat)
            except Exception as exc:  # an unexpected SDK error must not kill the session
                log.exception("Receive failed")
                return short_error(exc)
            if not raw:
                continue  # the SDK's answer to a frame type it does not handle
            event, problem = parse_server_event(raw)
            if event is None:
                self._skip_frame(raw, problem)
                continue
            await self._on_event(event, event.as_dict())

    def _skip_frame(self, raw: bytes, problem: str) -> None:
        """A frame that is not a server event: counted, logged, and the session goes on."""
        self.conversation.received[MALFORMED] += 1
        self.logs.events.record_skipped(raw, problem)
        count = self.conversation.received[MALFORMED]
        if count in (1, 10, 100, 1000, 10000):
            self.notice(
                f"Skipped {count} frame(s) that are not server events: {problem}", "warning"
            )

    async def _close_quietly(self, conn: VoiceLiveConnection) -> None:
        try:
            await conn.close()
        except Exception:
            log.debug("Close failed", exc_info=True)

    async def _shutdown(self) -> None:
        for task in (self._capture_task, self._exit_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._stop_connection_tasks()
        if self._quit.is_set():
            self.conversation.cut_reply("quit")
            if self._audio_item and self.audio.pending_ms() > 0:
                self.conversation.interrupt_playback(self._audio_item, "quit")
        self.conversation.closed()
        self._emit(Update("closed", at=self.clock()))
        self._emit(Update("state", at=self.clock()))
        try:
            await self.audio.stop()
        except Exception:
            log.exception("Stopping audio failed")
        stats = self.audio.stats()
        if stats:
            log.info("Audio stats: %s", " ".join(f"{k}={v}" for k, v in stats.items()))
        self.logs.flush()
        log.info("Session closed")

    # -- sending ---------------------------------------------------------------

    async def _send(self, event: ClientEvent) -> bool:
        conn = self._conn
        if conn is None:
            return False
        payload = event.as_dict()
        try:
            await conn.send(payload)
        except Exception as exc:
            log.warning("Send of %s failed: %s", payload.get("type"), short_error(exc))
            return False
        self._record("sent", payload)
        return True

    async def _send_session_update(self) -> None:
        config = build_session_config(self.settings, voice=self._voice)
        t, p, s = self._vad
        config.turn_detection.threshold = t  # type: ignore[union-attr]
        config.turn_detection.prefix_padding_ms = p  # type: ignore[union-attr]
        config.turn_detection.silence_duration_ms = s  # type: ignore[union-attr]
        await self._send(ClientEventSessionUpdate(session=config))
        log.info("Session configuration sent")

    def _record(self, direction: str, payload: dict[str, Any]) -> None:
        now = self.clock()
        self.logs.events.record(direction, payload)
        if direction == "sent":
            self.conversation.apply_sent(payload, now)
        else:
            self.conversation.apply_received(payload, now)
        self._emit(Update(direction, event=payload, at=now))

    async def _pump_capture(self) -> None:
        """Append microphone blocks while connected and not muted."""
        async for block in self.audio.capture():
            if self._quit.is_set():
                return
            if self.conversation.muted or self._conn is None:
                continue
            audio = base64.b64encode(block).decode("ascii")
            await self._send(ClientEventInputAudioBufferAppend(audio=audio))

    # -- receiving -------------------------------------------------------------

    async def _on_event(self, event: Any, payload: dict[str, Any]) -> None:
        kind = payload.get("type", "")
        if kind == "response.audio.delta":
            # Audio of a response we cancelled may still be in flight: never play it.
            if payload.get("response_id") not in self._cancelled_responses:
                self._audio_item = payload.get("item_id")
                self.audio.play(payload.get("item_id") or "", event.delta)
        self._record("received", payload)
        await self.approvals.on_event(payload)
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            await handler(payload)
        else:
            log.debug("Unhandled event type: %s", kind)

    async def _on_session_updated(self, payload: dict[str, Any]) -> None:
        session = payload.get("session") or {}
        log.info("Session ready: %s", session.get("id"))
        if not self._greeted:
            self._greeted = True
            if self.settings.greeting:
                log.info("Sending proactive greeting request")
                await self._send(ClientEventResponseCreate())
        if self._capture_task is None:
            self._capture_task = asyncio.ensure_future(self._pump_capture())
            log.info("Started audio capture")
        self._emit(Update("state", at=self.clock()))

    async def _on_input_audio_buffer_speech_started(self, payload: dict[str, Any]) -> None:
        log.info("User started speaking - stopping playback")
        await self._barge_in(reason="user speech")

    async def _on_response_done(self, payload: dict[str, Any]) -> None:
        log.info("Response complete")
        if self.settings.tools and (calls := function_calls(payload)):
            answer = answer_function_calls(
                calls,
                command=self.settings.tool_command,
                fixed_output=self.settings.tool_output,
                send=self._send,
                notice=self.notice,
            )
            self._connection_tasks.append(asyncio.ensure_future(answer))
        limit = self.settings.exit_after_turns
        if limit and self.conversation.answered_user_turns >= limit and self._exit_task is None:
            self._exit_task = asyncio.ensure_future(self._exit_after_playback())

    async def _on_error(self, payload: dict[str, Any]) -> None:
        message = (payload.get("error") or {}).get("message", "")
        if is_benign_cancel_error(message):
            log.debug("Benign cancellation error: %s", message)
        else:
            log.error("VoiceLive error: %s", message)

    async def _exit_after_playback(self) -> None:
        """--exit-after-turns: let the answer finish playing, then quit."""
        deadline = self.clock() + 30.0
        while self.audio.pending_ms() > 0 and self.clock() < deadline:
            await asyncio.sleep(0.05)
        log.info("Answered %d user turns; exiting", self.conversation.answered_user_turns)
        self.quit()

    async def _barge_in(self, reason: str) -> None:
        """Drop queued audio now, cancel an active response, truncate what was unheard."""
        self.audio.barge_in()
        conv = self.conversation
        response_id = conv.active_response_id
        if response_id is not None:
            self._cancelled_responses.add(response_id)
            await self._send(ClientEventResponseCancel())
        item_id = self._audio_item
        turn = conv.agent_turn(item_id)
        if item_id and turn is not None and not turn.interrupted:
            heard = self.audio.played_ms(item_id)
            if heard + 1 < turn.audio_ms or response_id is not None:
                conv.interrupt(item_id, heard)
                await self._send(
                    ClientEventConversationItemTruncate(
                        item_id=item_id, content_index=0, audio_end_ms=heard
                    )
                )
                log.info("Barge-in (%s): truncated %s at %d ms", reason, item_id, heard)
                self._emit(Update("state", at=self.clock()))
        self._audio_item = None

    # -- audio feedback (AudioListener) ----------------------------------------

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        self.conversation.playback_started(item_id, monotonic_time)
        self._emit(Update("state", at=self.clock()))

    def on_audio_fault(self, message: str) -> None:
        self.notice(
            f"Audio device lost: {message}. Continuing text-only (press r to retry).", "error"
        )
