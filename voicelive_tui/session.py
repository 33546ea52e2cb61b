"""The Voice Live worker: connect, configure, receive, barge in, reconnect.

One :class:`VoiceLiveSession` runs for the life of the app on the asyncio loop. It owns
the connection, feeds :class:`~voicelive_tui.conversation.Conversation`, writes the
conversation and events logs, and tells observers (dashboard, console) about every
event sent or received.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    UserMessageItem,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.audio.base import AudioBackend, AudioError
from voicelive_tui.audio.factory import start_backend
from voicelive_tui.auth import AuthError, Credential, fetch_agent_access_token
from voicelive_tui.config import Settings
from voicelive_tui.conversation import Conversation
from voicelive_tui.logs import RunLogs
from voicelive_tui.protocol import build_session_config, connect_kwargs, is_benign_cancel_error
from voicelive_tui.reconnect import (
    START_ATTEMPTS,
    backoff_delay,
    failure_reason,
    short_error,
)
from voicelive_tui.transcript import ConversationLogWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Update:
    """What observers hear: an event sent/received, a state change or a notice."""

    kind: str  # "sent", "received", "state", "notice", "outage", "closed"
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
        self._observers: list[Observer] = [
            ConversationLogWriter(logs.conversation, self.conversation)
        ]
        self._conn: VoiceLiveConnection | None = None
        self._quit = asyncio.Event()
        self._reconnect_now = asyncio.Event()
        self._greeted = False
        self._capture_task: asyncio.Task[None] | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._cancelled_responses: set[str] = set()
        self._audio_item: str | None = None  # newest agent item whose audio we queued
        self._voice = settings.voice
        self._vad = (settings.vad_threshold, settings.vad_prefix_ms, settings.vad_silence_ms)
        if isinstance(credential, AzureKeyCredential):
            logs.add_secret(credential.key)
        logs.add_secret(settings.api_key)
        logs.add_secret(settings.agent_connection_string)

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
        attempt = 0
        ever_connected = False
        await self._start_audio()
        try:
            while not self._quit.is_set():
                self.conversation.connecting()
                self._emit(Update("state", at=self.clock()))
                try:
                    reason = await self._connect_once()
                    ever_connected = True
                    attempt = 0
                except Exception as exc:
                    log.warning("Connection attempt failed: %s", short_error(exc), exc_info=True)
                    reason = failure_reason(
                        exc,
                        settings=self.settings,
                        endpoint=self.endpoint,
                        ever_connected=ever_connected,
                        attempts=attempt + 1,
                        start_attempts=self.start_attempts,
                    )
                finally:
                    self._conn = None
                if self._quit.is_set():
                    break
                delay = (
                    0.0
                    if self._reconnect_now.is_set() and ever_connected
                    else backoff_delay(attempt)
                )
                attempt += 1
                self._record_outage(reason or "connection closed", delay)
                await self._wait_before_retry(delay)
        finally:
            await self._shutdown()

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

    def _record_outage(self, reason: str, delay: float) -> None:
        now = self.clock()
        self.conversation.connection_lost(reason, delay, now)
        log.warning("Connection lost (%s); reconnecting in %.1f s", reason, delay)
        self._emit(Update("outage", text=f"{reason}; reconnecting in {delay:.1f} s", at=now))
        self._emit(Update("state", text=reason, at=now))

    async def _connect_once(self) -> str:
        token = None
        if self.settings.mode == "legacy-agent":
            if self.token_credential is None:
                raise AuthError(
                    "legacy agent mode needs an Entra ID credential for the agent access token"
                )
            token = await fetch_agent_access_token(self.token_credential, self.settings)
            self.logs.add_secret(token)
            log.info("Obtained agent access token")
        kwargs = connect_kwargs(
            self.settings,
            endpoint=self.endpoint,
            credential=self.credential,
            conversation_id=self.conversation.session.conversation_id,
            agent_access_token=token,
        )
        log.info("Connecting to Voice Live (%s) at %s", self.settings.mode_label(), self.endpoint)
        async with connect(**kwargs) as conn:
            self._conn = conn
            if self._quit.is_set():
                return "quit"
            self._reconnect_now.clear()
            log.info("Connected; setting up the session")
            await self._send_session_update()
            return await self._receive_loop(conn)

    async def _receive_loop(self, conn: VoiceLiveConnection) -> str:
        """Receive until the socket closes; a frame the SDK cannot parse is skipped."""
        while True:
            try:
                event = await conn.recv()
            except ConnectionClosed as exc:
                return f"closed by server (code {exc.code})" if not self._quit.is_set() else "quit"
            except VoiceLiveConnectionError as exc:
                if "parse" in str(exc).lower():
                    self.conversation.received["<malformed>"] += 1
                    self.notice(
                        f"Skipped a frame the SDK could not parse: {short_error(exc)}", "warning"
                    )
                    continue
                return short_error(exc)
            except Exception as exc:  # an unexpected SDK error must not kill the session
                log.exception("Receive failed")
                return short_error(exc)
            payload = event.as_dict()
            await self._on_event(event, payload)

    async def _close_quietly(self, conn: VoiceLiveConnection) -> None:
        try:
            await conn.close()
        except Exception:
            log.debug("Close failed", exc_info=True)

    async def _shutdown(self) -> None:
        for task in (self._capture_task, self._exit_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
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
