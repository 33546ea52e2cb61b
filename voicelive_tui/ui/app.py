"""VoiceLiveApp: the dashboard. Compose, bindings, and the session as one worker.

The session runs as a Textual worker on the app's own event loop. Its observer only
queues events and posts coalescing messages (see :mod:`voicelive_tui.ui.messages`); the
handlers render from the session's :class:`~voicelive_tui.conversation.Conversation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from voicelive_tui.auth import AuthError
from voicelive_tui.config import EXIT_AUTH, EXIT_CONNECT, EXIT_OK, Settings
from voicelive_tui.conversation import ConnectionState, VadState
from voicelive_tui.logs import RunLogs
from voicelive_tui.reconnect import ConnectFailed
from voicelive_tui.runner import DEMO_NOTICE, open_logs
from voicelive_tui.session import Update, VoiceLiveSession
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.commands import VoiceLiveCommands
from voicelive_tui.ui.messages import (
    ConversationChanged,
    EventsArrived,
    SessionNotice,
    SessionStarted,
)
from voicelive_tui.ui.signals import quit_on_signals
from voicelive_tui.ui.sources import SessionSource, endpoint_source
from voicelive_tui.ui.widgets.conversation import ConversationPanel
from voicelive_tui.ui.widgets.events import ARROWS, EventLog
from voicelive_tui.ui.widgets.help import HelpScreen
from voicelive_tui.ui.widgets.inputs import ClosingInput, FilterInput, MessageInput
from voicelive_tui.ui.widgets.json_view import JsonScreen
from voicelive_tui.ui.widgets.levels import FPS, LevelsPanel
from voicelive_tui.ui.widgets.status import StatusBar, StatusView

WIDE_MIN_COLUMNS = 120
"""At this width and more the three panels sit side by side; below, they stack."""
QUIT_TIMEOUT_S = 5.0

VAD_LABELS = {
    VadState.IDLE: ("listening", "listening"),
    VadState.USER_SPEAKING: ("you are speaking", "speaking"),
    VadState.PROCESSING: ("thinking", "thinking"),
    VadState.AGENT_SPEAKING: ("agent speaking", "agent"),
}


EXPIRY_SHOWN_UNDER_S = 300.0


def expires_in_label(seconds: float | None) -> int | None:
    """Whole seconds left in the session, when under five minutes (else None)."""
    if seconds is None or seconds >= EXPIRY_SHOWN_UNDER_S:
        return None
    return max(0, int(seconds))


class VoiceLiveApp(App[int]):
    """Conversation, live events and audio levels of one Voice Live session."""

    CSS_PATH = "app.tcss"
    TITLE = "voicelive-tui"
    AUTO_FOCUS = None
    COMMANDS = App.COMMANDS | {VoiceLiveCommands}
    BINDINGS = [
        Binding("m", "mute", "Mute", tooltip="Mute or unmute the microphone (stops appends)"),
        Binding("space,i", "interrupt", "Interrupt", tooltip="Stop the agent: cancel + truncate"),
        Binding("t", "type", "Type", tooltip="Type a message to the agent (Esc closes)"),
        Binding("enter", "type", "Type", show=False),
        Binding("slash", "filter", "Filter", tooltip="Filter events by type prefix or text"),
        Binding("p", "pause_events", "Pause", tooltip="Pause or resume following events"),
        Binding("c", "clear_events", "Clear", tooltip="Clear the event stream"),
        Binding("r", "reconnect", "Reconnect", tooltip="Drop the socket and connect again"),
        Binding("q", "quit", "Quit", tooltip="Close the socket, stop audio, flush logs, quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", tooltip="This help"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        source: SessionSource | None = None,
        logs: RunLogs | None = None,
        clock: WallClock | None = None,
        live_meters: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.session: VoiceLiveSession | None = None
        self.logs = logs
        self.failure: BaseException | None = None
        self.clock = clock or WallClock()
        self.live_meters = live_meters
        self.demo = False
        self.scripted = False
        self._source = source or endpoint_source()
        self._owns_logs = logs is None
        self._pending: deque[tuple[str, Mapping[str, Any], float]] = deque()
        self._quitting = False
        self._status = StatusView()

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the active screen, which may be
        # the help or JSON screen when a message arrives.
        self.status_bar = StatusBar(id="status")
        self.conversation_panel = ConversationPanel(self.clock.label, id="conversation")
        self.event_log = EventLog(self.clock, id="events")
        self.filter_input = FilterInput(placeholder="filter: type prefix or text", id="filter")
        self.levels_panel = LevelsPanel(id="levels")
        self.message_input = MessageInput(
            placeholder="message to the agent (Enter sends, Esc closes)", id="message"
        )
        yield self.status_bar
        with Horizontal(id="panels"):
            yield self.conversation_panel
            with Vertical(id="events-panel"):
                yield self.event_log
                yield self.filter_input
            yield self.levels_panel
        yield self.message_input
        yield Footer()

    def on_mount(self) -> None:
        self.filter_input.display = False
        self.message_input.display = False
        self._apply_layout(self.size.width)
        self.set_interval(0.25, self._refresh_state)
        self.run_session()

    def on_resize(self) -> None:
        self._apply_layout(self.size.width)

    def _apply_layout(self, width: int) -> None:
        narrow = width < WIDE_MIN_COLUMNS
        self.screen.set_class(narrow, "-narrow")
        footer = self.query_one(Footer)
        footer.compact = narrow
        footer.show_command_palette = not narrow  # room for every key at 80 columns

    # -- the session worker ---------------------------------------------------------

    @work(exclusive=True, group="session", exit_on_error=False)
    async def run_session(self) -> None:
        """Connect, run the session until quit, then close the logs."""
        if self.logs is None:
            self.logs = open_logs(self.settings)
        try:
            async with self._source(self.settings, self.logs) as opened:
                session = opened.session
                self.session, self.demo = session, opened.demo
                self.scripted = opened.scripted_user is not None
                session.subscribe(self._observe_session)
                self.post_message(SessionStarted())
                if opened.scripted_user is not None:
                    self.run_worker(
                        opened.scripted_user.run(session),  # type: ignore[attr-defined]
                        group="demo",
                        exit_on_error=False,
                    )
                await session.run()
        finally:
            if self._owns_logs and self.logs is not None:
                self.logs.close()

    def _observe_session(self, update: Update) -> None:
        """The session's observer (loop thread): queue, then post coalescing messages."""
        if update.kind in ("sent", "received") and update.event is not None:
            self._pending.append((update.kind, update.event, update.at))
            self.post_message(EventsArrived())
            self.post_message(ConversationChanged())
        elif update.kind == "notice":
            self.post_message(SessionNotice(update.text, update.severity))
        else:
            self.post_message(ConversationChanged())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "session" or event.state not in (
            WorkerState.ERROR,
            WorkerState.SUCCESS,
        ):
            return
        if event.state == WorkerState.ERROR:
            self.failure = event.worker.error
            code = 1
            if isinstance(self.failure, AuthError):
                code = EXIT_AUTH
            elif isinstance(self.failure, ConnectFailed):
                code = EXIT_CONNECT
            self.exit(code, return_code=code)
        elif not self._quitting:
            self.exit(EXIT_OK)  # the session ended by itself (e.g. --exit-after-turns)

    # -- rendering from the state ---------------------------------------------------

    def on_session_started(self, message: SessionStarted) -> None:
        if self.demo:
            self.notify(DEMO_NOTICE, title="Demo", timeout=10)
        session = self.session
        assert session is not None
        notice = getattr(session.audio, "notice", "")
        if notice:
            self.notify(notice, severity="warning", timeout=8)
        if self.live_meters:
            self.levels_panel.start(lambda: session.audio.levels, session.clock)
        else:  # a scripted session brings its own level history
            for i, levels in enumerate(getattr(session, "level_trace", ())):
                self.levels_panel.sample(levels, i / FPS)
        self._refresh_state()

    def on_events_arrived(self, message: EventsArrived) -> None:
        batch = list(self._pending)
        self._pending.clear()
        if batch:
            self.event_log.add_events(batch)

    def on_conversation_changed(self, message: ConversationChanged) -> None:
        self._refresh_state()

    def on_session_notice(self, message: SessionNotice) -> None:
        severity = (
            message.severity
            if message.severity in ("information", "warning", "error")
            else "information"
        )
        self.notify(message.text, severity=severity, timeout=8)  # type: ignore[arg-type]

    def _refresh_state(self) -> None:
        session = self.session
        if session is None or not self.conversation_panel.is_attached:
            return
        conv = session.conversation
        self.conversation_panel.sync(conv.turns)
        view = self._status_view(session)
        if view != self._status:
            self._status = view
            self.status_bar.show(view)
        self.levels_panel.show_vad(*self._vad_label(session))

    def _status_view(self, session: VoiceLiveSession) -> StatusView:
        conv = session.conversation
        reconnect_in = None
        if conv.connection == ConnectionState.RECONNECTING and conv.reconnect_in_s is not None:
            lost_at = next((t.started_at for t in reversed(conv.turns) if t.role == "system"), None)
            elapsed = session.clock() - lost_at if lost_at is not None else 0.0
            reconnect_in = round(max(0.0, conv.reconnect_in_s - elapsed))
        if self.demo:
            host = "DEMO: local emulator"
        else:
            host = urlparse(session.endpoint).hostname or ""
        mode = (
            f"agent {conv.session.agent_name}"
            if conv.session.agent_name
            else self.settings.mode_label()
        )
        return StatusView(
            connection=conv.connection.value,
            reconnect_in_s=reconnect_in,
            host=host,
            mode=mode,
            session_id=conv.session.id,
            voice=conv.session.voice,
            mic=self._mic_label(session),
            latency_ms=conv.last_voice_to_voice_ms,
            conversation_id=conv.session.conversation_id,
            audio=session.audio.describe() if session.audio.kind == "sounddevice" else None,
            expires_in_s=expires_in_label(conv.expires_in(time.time())),
        )

    def _mic_label(self, session: VoiceLiveSession) -> str:
        if session.conversation.muted:
            return "MUTED"
        if self.scripted:
            return "scripted"
        return "live" if session.audio.has_input else "no audio"

    def _vad_label(self, session: VoiceLiveSession) -> tuple[str, str]:
        conv = session.conversation
        if conv.connection != ConnectionState.READY:
            return (conv.connection.value, "offline")
        vad = conv.vad
        if vad == VadState.IDLE and session.audio.pending_ms() > 0:
            vad = VadState.AGENT_SPEAKING
        if conv.muted and vad in (VadState.IDLE, VadState.USER_SPEAKING):
            return ("muted", "muted")
        return VAD_LABELS[vad]

    # -- actions --------------------------------------------------------------------

    def action_mute(self) -> None:
        """Mute or unmute the microphone (stops input_audio_buffer.append)."""
        if self.session is not None:
            muted = self.session.toggle_mute()
            self.notify("Microphone muted" if muted else "Microphone live", timeout=2)
            self._refresh_state()

    def action_interrupt(self) -> None:
        """Stop the agent now: cancel the response and truncate what was not heard."""
        if self.session is not None:
            self.run_worker(self.session.interrupt(), group="control", exit_on_error=False)

    def action_type(self) -> None:
        self.message_input.open()

    def action_filter(self) -> None:
        self.filter_input.open(self.event_log.buffer.needle)

    def action_pause_events(self) -> None:
        paused = self.event_log.toggle_pause()
        self.notify("Event stream paused" if paused else "Following events", timeout=2)

    def action_clear_events(self) -> None:
        self.event_log.clear()

    def action_reconnect(self) -> None:
        if self.session is not None:
            self.notify("Reconnecting…", timeout=2)
            self.session.reconnect()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(b for b in self.BINDINGS if isinstance(b, Binding)))

    async def action_quit(self) -> None:
        """Close the socket, stop audio, flush and close the logs, then leave."""
        if self._quitting:
            return
        self._quitting = True
        session = self.session
        if session is not None:
            session.quit()
            workers = [w for w in self.workers if w.group == "session"]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*(w.wait() for w in workers), return_exceptions=True),
                    QUIT_TIMEOUT_S,
                )
        self.exit(EXIT_OK)

    async def change_settings(self, **changes: Any) -> None:
        """Voice or VAD values, live (a new session.update); used by the command palette."""
        if self.session is not None:
            await self.session.update_voice_and_vad(**changes)
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())
            self.notify(f"Sent session.update: {shown}", timeout=3)

    # -- inputs and selections ------------------------------------------------------

    @on(Input.Submitted, "#message")
    def send_message(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        event.input.display = False
        if text and self.session is not None:
            self.run_worker(self.session.send_text(text), group="control", exit_on_error=False)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.event_log.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_done(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.event_log.focus()

    @on(ClosingInput.Closed, "#filter")
    def filter_closed(self, event: ClosingInput.Closed) -> None:
        event.input.value = ""
        self.event_log.focus()

    def on_event_log_selected(self, message: EventLog.Selected) -> None:
        entry = message.entry
        stamp = self.clock.label(entry.at, precise=True)
        title = f"{ARROWS.get(entry.direction, '')} {entry.type}  {stamp}"
        self.push_screen(JsonScreen(title, entry.event))


def run_app(settings: Settings) -> int:
    """Run the dashboard; re-raises AuthError/ConnectFailed once the terminal is restored."""
    app = VoiceLiveApp(settings)

    async def run() -> None:
        with quit_on_signals(app):  # TERM/HUP/INT quit like q, terminal restored
            await app.run_async()

    asyncio.run(run())
    if app.failure is not None:
        raise app.failure
    return app.return_code or EXIT_OK
