"""VoiceLiveApp: bindings and their actions, messages, and the session as one worker.

The session runs as a Textual worker on the app's own event loop. Its observer only
queues events and posts coalescing messages (see :mod:`voicelive_tui.ui.messages`); the
:class:`~voicelive_tui.ui.screen.DashboardScreen` draws from the session's
:class:`~voicelive_tui.conversation.reducer.Conversation` at a bounded frame rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rich.segment import Segment
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.driver import Driver
from textual.filter import ANSIToTruecolor, LineFilter, Monochrome
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.config import Settings
from voicelive_tui.config.preferences import save_preference
from voicelive_tui.config.turns import TurnTaking
from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.errors import EXIT_OK, VoiceLiveError
from voicelive_tui.logs import RunLogs
from voicelive_tui.platform_support import run_loop
from voicelive_tui.protocol import APPEND
from voicelive_tui.replay import Replay, ReplaySession
from voicelive_tui.runner import DEMO_NOTICE, open_logs
from voicelive_tui.session import SessionOverrides, VoiceLiveSession
from voicelive_tui.sources import SessionSource, endpoint_source, replay_source, replay_speaker
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.commands import VoiceLiveCommands
from voicelive_tui.ui.messages import (
    ConversationChanged,
    EventsArrived,
    SessionNotice,
    SessionStarted,
    SettingsChangeRequested,
)
from voicelive_tui.ui.screen import DashboardScreen
from voicelive_tui.ui.signals import quit_on_signals, wait_for_foreground
from voicelive_tui.ui.widgets.approval import ApprovalScreen
from voicelive_tui.ui.widgets.conversation import ConversationPanel
from voicelive_tui.ui.widgets.devices_view import DeviceScreen
from voicelive_tui.ui.widgets.events import ARROWS, EventLog
from voicelive_tui.ui.widgets.help import HelpScreen
from voicelive_tui.ui.widgets.inputs import ClosingInput, FilterInput, MessageInput
from voicelive_tui.ui.widgets.json_view import JsonScreen
from voicelive_tui.ui.widgets.latency_view import LatencyScreen
from voicelive_tui.ui.widgets.levels import FPS, LevelsPanel
from voicelive_tui.ui.widgets.status import StatusBar
from voicelive_tui.ui.widgets.usage_view import UsageScreen
from voicelive_tui.updates import AudioLost, EventReceived, EventSent, Notice, Severity, Update

QUIT_TIMEOUT_S = 5.0
SEVERITY_TITLES: dict[SeverityLevel, str] = {
    "information": "Notice",
    "warning": "Warning",
    "error": "Error",
}
HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FFFF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    success="#00FF00",
    warning="#FFB000",
    error="#FF4040",
    dark=True,
    variables={"text-muted": "#FFFFFF", "border": "#FFFFFF", "footer-key-foreground": "#FFFF00"},
)
"""White on black, yellow focus; muted text is not dimmed."""


class WithoutColor(LineFilter):
    """NO_COLOR as the convention has it: no colour escapes at all (Textual's own filter
    draws in greys, thousands of 256-colour sequences); bold, underline and reverse stay."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, None if style is None else style.without_color, control)
            for text, style, control in segments
        ]


class VoiceLiveApp(App[int]):
    """Conversation, live events and audio levels of one Voice Live session."""

    CSS_PATH = "app.tcss"
    TITLE = "voicelive-tui"
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
        Binding(
            "d",
            "devices",
            "Devices",
            show=False,  # the footer is full at 80 columns; ? and the palette list it
            tooltip="Microphones and speakers with live input levels; Enter switches at once",
        ),
        Binding("n", "step", "Step", show=False, tooltip="--replay, paused: the next event"),
        Binding("l", "latency", "Latency", tooltip="Latency by stage, p50 to p99, the worst turn"),
        Binding("u", "usage", "Usage", tooltip="Tokens per turn and for the session"),
        Binding("e", "export", "Export", tooltip="Save the conversation as Markdown (log folder)"),
        Binding(
            "o",
            "turn_settings",
            "Turn taking",
            show=False,
            tooltip="Turn taking settings: detector, EOU, VAD, noise, transcription; live",
        ),
        Binding(
            "g",
            "timeline",
            "Timeline",
            show=False,
            tooltip="Timeline: lanes of the last 30-60 s, why each turn ended",
        ),
        Binding(
            "grave_accent",
            "talk",
            "Talk",
            show=False,
            tooltip="Push to talk: open the microphone, again to send (Esc discards)",
        ),
        Binding(
            "escape",
            "discard_talk",
            "Discard",
            show=False,
            tooltip="Push to talk: throw away what was said (input_audio_buffer.clear)",
        ),
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
        self.dashboard = DashboardScreen(self.clock)
        self._source = source or endpoint_source()
        self._owns_logs = logs is None
        self._quitting = False
        self._conversation_posted = False  # a ConversationChanged waits in the queue
        self._answering: set[str] = set()  # approval requests answered from the prompt
        self._without_color = WithoutColor()
        if settings.no_motion:
            self.animation_level = "none"
        self.register_theme(HIGH_CONTRAST)
        if settings.theme in self.available_themes:
            self.theme = settings.theme

    # Typed handles on the dashboard's widgets (the active screen may be help or JSON).

    @property
    def status_bar(self) -> StatusBar:
        return self.dashboard.status_bar

    @property
    def conversation_panel(self) -> ConversationPanel:
        return self.dashboard.conversation_panel

    @property
    def event_log(self) -> EventLog:
        return self.dashboard.event_log

    @property
    def levels_panel(self) -> LevelsPanel:
        return self.dashboard.levels_panel

    @property
    def filter_input(self) -> FilterInput:
        return self.dashboard.filter_input

    @property
    def message_input(self) -> MessageInput:
        return self.dashboard.message_input

    def get_driver_class(self) -> type[Driver]:
        # On a POSIX terminal: the driver whose writes never block the session's loop.
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":
            from voicelive_tui.ui.driver import NonBlockingDriver

            return NonBlockingDriver
        return driver

    def hurry_terminal(self) -> None:
        """The terminal is hanging up: quitting does not wait for it to take writes."""
        hurry = getattr(self._driver, "hurry", None)  # only NonBlockingDriver has it
        if hurry is not None:
            hurry()

    def on_mount(self) -> None:
        if self.settings.theme_given:
            self._keep_theme(self.current_theme)
        self.theme_changed_signal.subscribe(self, self._keep_theme)

    def _keep_theme(self, theme: Theme) -> None:
        """--theme, or a theme picked in the palette: kept for the next runs."""
        path = self.settings.preferences_file
        if path is None:
            return
        try:
            save_preference(path, "theme", theme.name)
        except OSError as exc:
            self.notify(f"Could not keep the theme in {path}: {exc.strerror}", severity="warning")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast whose title names its severity: a word, not only the border's colour."""
        super().notify(
            message,
            title=title or SEVERITY_TITLES[severity],
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def get_line_filters(self) -> Sequence[LineFilter]:
        filters = super().get_line_filters()
        if not self.no_color:
            return filters
        kept = [f for f in filters if not isinstance(f, (Monochrome, ANSIToTruecolor))]
        return [*kept, self._without_color]

    def get_default_screen(self) -> DashboardScreen:
        return self.dashboard

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Quit is offered from the key bindings, with what it does (VoiceLiveCommands).
        for command in super().get_system_commands(screen):
            if command.callback != self.action_quit:
                yield command

    def on_ready(self) -> None:
        # After the dashboard's first frame: its widgets exist when the session starts.
        if self.animation_level == "none":  # --no-motion or TEXTUAL_ANIMATIONS=none
            self.levels_panel.hold_still()
        self.run_session()

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
                        opened.scripted_user.run(session),
                        group="demo",
                        exit_on_error=False,
                    )
                await session.run()
        finally:
            if self._owns_logs and self.logs is not None:
                self.logs.close()

    def _observe_session(self, update: Update) -> None:
        """The session's observer (loop thread): queue, then post coalescing messages.

        Events can come hundreds of times a second, so a message is posted only when the
        queue was empty (the frame that drains it draws everything queued by then), and a
        microphone append, which changes nothing on screen but its event line, does not
        ask for the conversation to be redrawn. Each update is also the dashboard's
        chance to draw a frame that is due, on this wake-up of the loop.
        """
        if isinstance(update, (EventSent, EventReceived)):
            pending = self.dashboard.pending
            if not pending:
                self.post_message(EventsArrived())
            pending.append(update)
            if update.event.get("type") != APPEND:
                self._conversation_changed()
        elif isinstance(update, Notice):
            self.post_message(SessionNotice(update.text, update.severity))
        elif isinstance(update, AudioLost):
            then = (
                "reconnecting by itself (r retries now)"
                if update.reconnecting
                else "press r to retry"
            )
            text = f"Audio device lost: {update.message}. Continuing text-only; {then}."
            self.post_message(SessionNotice(text, Severity.ERROR))
            self._conversation_changed()
        else:
            self._conversation_changed()
        self.dashboard.session_active()

    def _conversation_changed(self) -> None:
        """Post ConversationChanged unless one is already waiting: a flood of events must
        not fill the app's queue, where a key press would wait behind them."""
        if not self._conversation_posted:
            self._conversation_posted = self.post_message(ConversationChanged())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "session" or event.state not in (
            WorkerState.ERROR,
            WorkerState.SUCCESS,
        ):
            return
        if event.state == WorkerState.ERROR:
            self.failure = event.worker.error
            failure = self.failure
            code = failure.exit_code if isinstance(failure, VoiceLiveError) else 1
            self.exit(code, return_code=code)
        elif not self._quitting:
            self.exit(EXIT_OK)  # the session ended by itself

    # -- messages from the session -----------------------------------------------------

    def on_session_started(self, message: SessionStarted) -> None:
        if self.demo:
            self.notify(DEMO_NOTICE, title="Demo", timeout=10)
        session = self.session
        assert session is not None
        # An audio backend's notice (text only, and why) comes from Dialogue.start_audio,
        # which the console shares: not from here too.
        host = "DEMO: local emulator" if self.demo else urlparse(session.endpoint).hostname or ""
        self.dashboard.show_session(
            session,
            host=host,
            mode=self.settings.mode_label(),
            scripted=self.scripted,
            live=self.live_meters,
        )

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.dashboard.events_arrived()

    def on_conversation_changed(self, message: ConversationChanged) -> None:
        self._conversation_posted = False
        self.dashboard.state_changed()
        self._prompt_approval()

    def on_session_notice(self, message: SessionNotice) -> None:
        # The service's words: shown as they are, never read as Rich markup.
        self.notify(message.text, severity=message.severity.value, timeout=8, markup=False)

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

    # -- approvals, keys and live settings ---------------------------------------------

    def _prompt_approval(self) -> None:
        """Ask about the oldest MCP approval request nobody answered yet (never blocks:
        the session goes on while the prompt is open)."""
        session = self.session
        if session is None or not self.screen_stack or isinstance(self.screen, ApprovalScreen):
            return
        pending = [
            e
            for e in session.conversation.activity.pending_approvals()
            if e.approval_request_id not in self._answering
            and e.server_label not in session.approvals.auto_approve
        ]
        if not pending:
            return
        entry, request_id = pending[0], pending[0].approval_request_id or ""

        def answered(approve: bool | None) -> None:
            if approve is not None:
                self._answering.add(request_id)
                self.run_worker(session.approvals.answer(request_id, approve), group="approval")

        self.push_screen(ApprovalScreen(entry, len(pending)), answered)

    def action_mute(self) -> None:
        """Mute or unmute the microphone (stops input_audio_buffer.append)."""
        if self.session is not None:
            muted = self.session.toggle_mute()
            self.notify("Microphone muted" if muted else "Microphone live", timeout=2)
            self.dashboard.state_changed(now=True)

    def action_interrupt(self) -> None:
        """Stop the agent now: cancel the response and truncate what was not heard."""
        if self.session is not None:
            self.run_worker(self.session.interrupt(), group="control", exit_on_error=False)

    def action_talk(self) -> None:
        """Push to talk: open the microphone (interrupting the agent), or send the turn."""
        session = self.session
        if session is None:
            return
        if not session.conversation.push_to_talk:
            self.notify(
                "Push to talk is off: turn it on in turn taking (o) or the palette", timeout=3
            )
            return
        self.run_worker(self._tap(session), group="control", exit_on_error=False)

    async def _tap(self, session: VoiceLiveSession) -> None:
        await session.tap_to_talk()
        self.dashboard.state_changed(now=True)

    def action_discard_talk(self) -> None:
        """Esc while talking: throw the turn away."""
        session = self.session
        if session is not None and session.conversation.talking:
            self.run_worker(self._discard(session), group="control", exit_on_error=False)

    async def _discard(self, session: VoiceLiveSession) -> None:
        if await session.discard_talk():
            self.notify("Discarded what was said", timeout=2)
            self.dashboard.state_changed(now=True)

    def action_timeline(self) -> None:
        """The last 30-60 s as lanes on one time axis."""
        from voicelive_tui.ui.widgets.timeline_view import TimelineScreen  # when first shown

        if isinstance(self.screen, TimelineScreen):
            return
        session = self.session
        replaying = isinstance(session, ReplaySession)

        def mic() -> list[tuple[float, float]] | None:
            if session is None or replaying or not self.live_meters:
                return None
            history, now = list(self.levels_panel.mic_history), session.clock()
            n = len(history)
            return [(now - (n - 1 - i) / FPS, level) for i, level in enumerate(history)]

        self.push_screen(
            TimelineScreen(
                lambda: session.conversation if session else None,
                lambda: session.clock() if session else 0.0,
                mic,
            )
        )

    def action_turn_settings(self) -> None:
        """The turn-taking settings, edited live."""
        from voicelive_tui.ui.widgets.turn_settings import TurnSettingsScreen  # when first shown

        if isinstance(self.screen, TurnSettingsScreen) or self.session is None:
            return
        session = self.session

        def send(turns: TurnTaking) -> None:
            self.post_message(SettingsChangeRequested(SessionOverrides(turns=turns)))

        self.push_screen(
            TurnSettingsScreen(
                lambda: session.turn_taking, lambda: session.conversation.session, send
            )
        )

    def action_step(self) -> None:
        if isinstance(self.session, ReplaySession):
            self.session.step()

    def action_type(self) -> None:
        self.message_input.open()

    def action_filter(self) -> None:
        self.filter_input.open(self.event_log.buffer.needle)

    def action_pause_events(self) -> None:
        paused = self.event_log.toggle_pause()
        self.notify("Event stream paused" if paused else "Following events", timeout=2)

    def action_clear_events(self) -> None:
        self.event_log.clear()

    def action_echo_check(self) -> None:
        """Play a probe, listen, and say how much of the speaker the microphone hears."""
        if self.session is not None and not isinstance(self.session, ReplaySession):
            self.notify("Echo check: the microphone is muted for a few seconds", timeout=3)
            self.run_worker(self.session.echo_check(), group="control", exit_on_error=False)

    def action_reconnect(self) -> None:
        if self.session is not None:
            self.notify("Reconnecting…", timeout=2)
            self.session.reconnect()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            # Built once and kept installed: ? shows it without composing it again.
            if not self.is_screen_installed("help"):
                bindings = (b for b in self.BINDINGS if isinstance(b, Binding))
                self.install_screen(HelpScreen(bindings), "help")
            self.push_screen("help")

    def action_latency(self) -> None:
        if isinstance(self.screen, LatencyScreen):
            return
        session = self.session
        self.push_screen(LatencyScreen(lambda: session.conversation.latencies if session else []))

    def action_devices(self) -> None:
        if isinstance(self.screen, DeviceScreen):
            return
        audio = self.session.audio if self.session is not None else NullBackend()
        self.push_screen(DeviceScreen(audio))

    def action_usage(self) -> None:
        if isinstance(self.screen, UsageScreen):
            return
        self.push_screen(UsageScreen(lambda: self.session.conversation if self.session else None))

    def action_export(self) -> None:
        """The conversation so far as Markdown, next to the run's logs."""
        session, logs = self.session, self.logs
        if session is None or logs is None:
            self.notify("Nothing to export yet", timeout=3)
            return
        path = logs.log_dir / f"{logs.stamp}_conversation.md"
        text = conversation_markdown(
            session.conversation, session.conversation.latencies, self.clock.label
        )
        try:
            path.write_text(logs.redactor(text), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Export failed: {exc.strerror}", severity="error", timeout=8, markup=False)
            return
        self.notify(f"Conversation saved: {path}", timeout=6, markup=False)

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

    def on_settings_change_requested(self, message: SettingsChangeRequested) -> None:
        """Voice or VAD values, live (a new session.update), from the command palette."""
        if self.session is not None:
            self.run_worker(
                self._change_settings(message.overrides), group="control", exit_on_error=False
            )

    async def _change_settings(self, overrides: SessionOverrides) -> None:
        assert self.session is not None
        await self.session.override(overrides)
        changes = {k: v for k, v in vars(overrides).items() if v is not None and k != "turns"}
        if "echo_reference" in changes:
            return  # the session says what it does (a renewal)
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())
        shown = shown or "turn taking"
        self.notify(f"Sent session.update: {shown}", timeout=3)


def run_replay(settings: Settings, replay: Replay) -> int:
    """``--replay``: the dashboard on a past session. Its own logs go to a folder that is
    removed at exit (a replay writes nothing); times read as recorded."""
    with tempfile.TemporaryDirectory(prefix="voicelive-tui-replay-") as scratch:
        logs = RunLogs(Path(scratch))
        try:
            app = VoiceLiveApp(
                settings,
                source=replay_source(replay, settings.speed, replay_speaker(settings, replay)),
                logs=logs,
                clock=WallClock(offset=0.0),  # the replay's clock is Unix time
            )
            return run_app(settings, app)
        finally:
            logs.close()


def run_app(settings: Settings, app: VoiceLiveApp | None = None) -> int:
    """Run the dashboard; re-raises the session's failure once the terminal is restored."""
    if not wait_for_foreground(sys.__stdin__.fileno() if sys.__stdin__ else 0):
        return EXIT_OK  # a quit signal while waiting to be the foreground job
    from voicelive_tui.ui.driver import diagnostics_note  # POSIX only, as the driver

    note = diagnostics_note()
    if note:  # printed before the alternate screen: on the terminal after the dashboard
        print(note, flush=True)
    app = app or VoiceLiveApp(settings)

    async def run() -> None:
        with quit_on_signals(app, app.hurry_terminal):  # TERM/HUP/INT quit like q
            await app.run_async()

    run_loop(run())
    if app.failure is not None:
        raise app.failure
    return app.return_code or EXIT_OK
