"""The dashboard's actions: the key bindings, the approval prompt and live settings.

:class:`DashboardActions` is the base of :class:`~voicelive_tui.ui.app.VoiceLiveApp`,
which owns the session worker and the messages; this part only acts on them.
"""

from __future__ import annotations

import asyncio
import contextlib

from textual.app import App
from textual.binding import Binding

from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.errors import EXIT_OK
from voicelive_tui.logs import RunLogs
from voicelive_tui.replay import ReplaySession
from voicelive_tui.session.service_config import SessionOverrides
from voicelive_tui.session.session import VoiceLiveSession
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.messages import SettingsChangeRequested
from voicelive_tui.ui.screen import DashboardScreen
from voicelive_tui.ui.widgets.approval import ApprovalScreen
from voicelive_tui.ui.widgets.conversation import ConversationPanel
from voicelive_tui.ui.widgets.events import EventLog
from voicelive_tui.ui.widgets.help import HelpScreen
from voicelive_tui.ui.widgets.inputs import FilterInput, MessageInput
from voicelive_tui.ui.widgets.latency_view import LatencyScreen
from voicelive_tui.ui.widgets.levels import LevelsPanel
from voicelive_tui.ui.widgets.status import StatusBar

__all__ = ["QUIT_TIMEOUT_S", "DashboardActions"]

QUIT_TIMEOUT_S = 5.0


class DashboardActions(App[int]):
    """What the keys, the command palette and the approval prompt do."""

    session: VoiceLiveSession | None
    logs: RunLogs | None
    clock: WallClock
    dashboard: DashboardScreen
    _quitting: bool
    _answering: set[str]

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

    # -- actions --------------------------------------------------------------------

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
            self.notify(f"Export failed: {exc.strerror}", severity="error", timeout=8)
            return
        self.notify(f"Conversation saved: {path}", timeout=6)

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
        changes = {k: v for k, v in vars(overrides).items() if v is not None}
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())
        self.notify(f"Sent session.update: {shown}", timeout=3)
