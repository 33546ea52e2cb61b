"""Console mode (--no-tui): the seed quickstart's console lines, for dumb terminals and scripts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections import deque
from typing import TextIO

from voicelive_tui.config import Settings
from voicelive_tui.conversation.activity import log_lines
from voicelive_tui.conversation.latency import TurnTiming
from voicelive_tui.conversation.turns import ConnectionState
from voicelive_tui.conversation.usage import compact
from voicelive_tui.errors import EXIT_OK
from voicelive_tui.platform_support import quit_signals
from voicelive_tui.protocol import APPEND, is_benign_cancel_error, text_field
from voicelive_tui.runner import DEMO_NOTICE, open_logs, open_session
from voicelive_tui.safe_text import displayable
from voicelive_tui.session import MALFORMED, VoiceLiveSession
from voicelive_tui.updates import (
    AudioLost,
    EventReceived,
    EventSent,
    Notice,
    Severity,
    StateChanged,
    Update,
)

log = logging.getLogger(__name__)

PLAYBACK_WAIT_S = 30.0
BANNER = "🎙️  Basic Voice Assistant with Azure VoiceLive SDK"
READY = (
    "\n" + "=" * 60 + "\n🎤 VOICE ASSISTANT READY\nStart speaking to begin conversation\n"
    "Press Ctrl+C to exit\n" + "=" * 60 + "\n"
)
GOODBYE = "\n👋 Voice assistant shut down. Goodbye!"


# Received event type -> how the seed prints it.
_LINES = {
    "input_audio_buffer.speech_started": lambda e: "🎤 Listening...",
    "input_audio_buffer.speech_stopped": lambda e: "🤔 Processing...",
    "conversation.item.input_audio_transcription.completed": lambda e: (
        f"👤 You said:\t{text_field(e, 'transcript')}"
    ),
    "response.audio.done": lambda e: "🎤 Ready for next input...",
    "response.text.done": lambda e: f"🤖 Agent responded with text:\t{text_field(e, 'text')}",
    "response.audio_transcript.done": lambda e: (
        f"🤖 Agent responded with audio transcript:\t{text_field(e, 'transcript')}"
    ),
}

_PREFIXES = {Severity.ERROR: "❌ ", Severity.WARNING: "⚠️  ", Severity.INFORMATION: "ℹ️  "}


class ConsolePrinter:
    """Prints the seed's lines for the updates of one session."""

    def __init__(
        self, session: VoiceLiveSession, out: TextIO | None = None, stdin: TextIO | None = None
    ) -> None:
        self.session = session
        self.out = out or sys.stdout
        self.stdin = stdin or sys.stdin
        self._ready_shown = False
        self._last_state: ConnectionState | None = None
        self._timed: deque[TurnTiming] = deque(maxlen=8)  # the newest printed
        self._usage_shown = 0  # responses whose tokens were printed

    def print(self, text: str) -> None:
        """One line (or the banner's few) on the terminal: the last check of its text."""
        print(displayable(text), file=self.out, flush=True)

    def __call__(self, update: Update) -> None:
        if isinstance(update, EventSent) and update.event.get("type") == APPEND:
            return  # a microphone block (fifty a second): no line, and no turn timed by it
        if isinstance(update, (EventSent, EventReceived)):
            # The agent's activity, as the conversation log has it (tab as a space).
            activity = self.session.conversation.activity
            for line in log_lines(activity, update.direction, update.event):
                self.print("🔧 " + line.replace("\t", " ", 1))
        if isinstance(update, EventReceived):
            self._received(update.event)
        elif isinstance(update, Notice):
            self.print(_PREFIXES[update.severity] + update.text)
        elif isinstance(update, AudioLost):
            self.print(
                f"{_PREFIXES[Severity.ERROR]}Audio device lost: {update.message}. "
                "Continuing text-only"
                + ("; reconnecting by itself." if update.reconnecting else ".")
            )
        elif isinstance(update, StateChanged):
            self._state()
        self._latency()

    def _latency(self) -> None:
        """One line per turn once its latency is complete: the whole and its stages."""
        for timing in self.session.conversation.latencies[-3:]:
            if timing.total_ms is None or any(t is timing for t in self._timed):
                continue
            self._timed.append(timing)
            stages = ", ".join(f"{name} {ms:.0f} ms" for name, ms in timing.stages())
            what = "Voice-to-voice" if timing.kind == "voice" else "Typed to first output"
            approx = "~" if timing.estimated else ""
            waited = (
                f"; {timing.approval_wait_ms:.0f} ms waiting for your approval, not counted"
                if timing.waits
                else ""
            )
            self.print(f"⏱️  {what} {approx}{timing.total_ms:.0f} ms ({stages}{waited})")

    def _usage(self) -> None:
        """One line per response that reported usage: its tokens and the session's."""
        ledger = self.session.conversation.usage
        if len(ledger.responses) == self._usage_shown:
            return  # this response.done carried no usage
        self._usage_shown = len(ledger.responses)
        conv = self.session.conversation
        spent = ledger.responses[-1].usage
        line = f"🪙 Tokens {compact(spent)} (session {ledger.total.total_tokens})"
        cost, total = conv.cost(spent), conv.cost()
        if cost is not None and total is not None:
            line += (
                f"; {cost.label()}, session {total.figure()}"
                if cost.amount is not None
                else f"; {cost.label()}"
            )
        self.print(line)

    def _received(self, event: dict) -> None:
        kind = event.get("type", "")
        if kind == "session.updated" and not self._ready_shown:
            self._ready_shown = True
            self.print(READY)
        elif kind == "error":
            message = text_field(event.get("error") or {}, "message")
            if not is_benign_cancel_error(message):
                self.print(f"Error: {message}")
        line = _LINES.get(kind)
        if line is not None:
            self.print(line(event))
        if kind == "response.done":
            self._usage()
        item = event.get("item")
        if kind == "conversation.item.created" and isinstance(item, dict):
            if item.get("type") == "mcp_approval_request":
                self._approval(item)

    def _approval(self, item: dict) -> None:
        """Ask on stdin (a terminal), else deny: nothing else can answer in console mode."""
        if self.session.approvals.is_trusted(item) or not isinstance(item.get("id"), str):
            return
        call = displayable(
            f"{item.get('server_label')}.{item.get('name')}({item.get('arguments') or ''})",
            one_line=True,
        )
        try:
            interactive = self.stdin is not None and self.stdin.isatty()
        except (ValueError, OSError):  # a closed stdin
            interactive = False
        if not interactive:
            self.session.notice(
                f"Denied MCP call {call}: stdin is not a terminal (--auto-approve"
                f" {text_field(item, 'server_label')} trusts the server)",
                Severity.WARNING,
            )
            asyncio.ensure_future(self.session.approvals.answer(item["id"], False))
            return
        loop = asyncio.get_running_loop()

        def ask() -> None:  # a daemon thread: an unanswered prompt never holds up quitting
            try:
                reply = input(f"🔧 Approve MCP call {call}? [y/N] ")
            except (EOFError, OSError):
                reply = ""
            approve = reply.strip().lower() in ("y", "yes")
            loop.call_soon_threadsafe(
                lambda: asyncio.ensure_future(self.session.approvals.answer(item["id"], approve))
            )

        threading.Thread(target=ask, name="approval-prompt", daemon=True).start()

    def _state(self) -> None:
        conv = self.session.conversation
        state = conv.connection
        if state == self._last_state:
            return
        self._last_state = state
        if state == ConnectionState.RECONNECTING:
            what = "Connection lost" if conv.session.id else "Could not connect"
            self.print(f"⚠️  {what}; retrying in {conv.reconnect_in_s or 0:.1f} s")
        elif state == ConnectionState.READY and conv.outages:
            self.print("✅ Reconnected")


class TurnLimit:
    """``--exit-after-turns N``: quit once the agent answered N user turns and its
    answer finished playing."""

    def __init__(self, session: VoiceLiveSession, limit: int) -> None:
        self.session = session
        self.limit = limit
        self.task: asyncio.Task[None] | None = None

    def __call__(self, update: Update) -> None:
        if self.task is not None or not isinstance(update, EventReceived):
            return
        answered = self.session.conversation.answered_user_turns
        if update.event.get("type") == "response.done" and answered >= self.limit:
            self.task = asyncio.ensure_future(self._quit_after_playback())

    async def _quit_after_playback(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PLAYBACK_WAIT_S
        while self.session.audio.pending_ms() > 0 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        log.info("Answered %d user turns; exiting", self.session.conversation.answered_user_turns)
        self.session.quit()

    async def close(self) -> None:
        """Cancel the wait if the session ended first."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def run_console(settings: Settings) -> int:
    """Console mode: the seed's lines on stdout until Ctrl+C or --exit-after-turns."""
    if "utf" not in (sys.stdout.encoding or "").lower():
        # An ASCII or Latin-1 terminal gets '?' for the seed's emoji, not a traceback.
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    print(BANNER)
    print("=" * 50, flush=True)
    if settings.demo:
        print(DEMO_NOTICE, flush=True)
    logs = open_logs(settings)
    try:
        async with open_session(settings, logs) as opened:
            session = opened.session
            session.subscribe(ConsolePrinter(session))
            limit = TurnLimit(session, settings.exit_after_turns or 0)
            if settings.exit_after_turns:
                session.subscribe(limit)
            # An SSH disconnect sends SIGHUP (closing the console on Windows does the
            # same): quit as Ctrl+C does, the reply in progress written to the
            # conversation log as [interrupted: quit].
            try:
                with quit_signals(lambda _name: session.quit()):
                    await session.run()
            finally:
                await limit.close()
        conv = session.conversation
        lines = []
        skipped = conv.received[MALFORMED]
        if skipped:
            lines.append(f"Skipped {skipped} frame(s) that were not server events")
        if conv.session.conversation_id and settings.mode == "agent":
            lines.append(
                f"Conversation id: {displayable(conv.session.conversation_id, one_line=True)} "
                "(continue it with --conversation-id)"
            )
        lines.append(GOODBYE)
        with contextlib.suppress(OSError):  # after a SIGHUP the terminal may be gone
            print("\n".join(lines), flush=True)
        return EXIT_OK
    finally:
        logs.close()
