"""Screen-reader mode (``--screen-reader``): labelled lines, append-only, with the dashboard's keys.

Screen readers and braille displays follow a terminal line by line, at the cursor. A
full-screen front end (the alternate screen, a hidden cursor, regions redrawn in place)
gives them nothing to follow: Orca and NVDA cannot see an alternate screen's redraws, the
terminal's scrollback loses the conversation, and Textual hides the standard cursor that
BRLTTY tracks. So this mode is the console's kind of output, never a Textual screen: every
line is printed once, below the last, and starts with what it is (``You:``, ``Agent:``,
``Tool:``, ``Notice:``, ``State:``); the cursor stays where the terminal puts it. Keys are
read one at a time (the terminal's line mode off, echo off, nothing else changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Any, Literal, TextIO

from voicelive_tui.config import Settings
from voicelive_tui.conversation.activity import ToolActivity, log_lines
from voicelive_tui.conversation.export import conversation_markdown
from voicelive_tui.conversation.turns import ConnectionState, Turn, VadState
from voicelive_tui.conversation.usage import compact
from voicelive_tui.errors import EXIT_OK
from voicelive_tui.logs import RunLogs
from voicelive_tui.platform_support import keys_one_at_a_time, line_mode, quit_signals
from voicelive_tui.runner import DEMO_NOTICE, open_logs, open_session
from voicelive_tui.safe_text import displayable
from voicelive_tui.session import VoiceLiveSession
from voicelive_tui.updates import AudioLost, EventReceived, EventSent, Notice, Severity, Update

Label = Literal["You", "Agent", "Tool", "Notice", "State", "Event", "Help", "Type", "Filter"]
"""What a line is: every line this mode prints starts with one of these and a colon."""

ROLE_LABELS: dict[str, Label] = {"user": "You", "agent": "Agent", "system": "Notice"}
SEVERITY_WORDS = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFORMATION: "info",
}
VAD_WORDS = {
    VadState.IDLE: "listening",
    VadState.USER_SPEAKING: "you are speaking",
    VadState.PROCESSING: "thinking",
    VadState.AGENT_SPEAKING: "agent speaking",
}

KEYS: tuple[tuple[str, str, str], ...] = (
    ("?", "help", "this help"),
    ("q", "quit", "close the socket, stop audio, flush logs, quit (Ctrl+C too)"),
    ("m", "mute", "mute or unmute the microphone"),
    ("Space i", "interrupt", "stop the agent: cancel and truncate"),
    ("t Enter", "type", "type a message to the agent (Enter sends, an empty line cancels)"),
    ("y", "approve", "approve the MCP call that is asking"),
    ("n", "deny", "deny the MCP call that is asking (--replay, paused: the next event)"),
    ("/", "filter", "read events whose type or text contains a word (empty: none)"),
    ("p", "pause_events", "pause or resume reading events"),
    ("c", "clear_events", "stop reading events"),
    ("r", "reconnect", "drop the socket and connect again"),
    ("l", "latency", "each turn's latency by stage"),
    ("u", "usage", "tokens per turn and for the session"),
    ("e", "export", "save the conversation as Markdown in the log folder"),
    ("`", "talk", "push to talk: open the microphone, again to send"),
)
"""The dashboard's keys as this mode has them: (keys, action, what it does)."""
ACTIONS = {key: action for keys, action, _ in KEYS for key in keys.split() if len(key) == 1}
ACTIONS.update({" ": "interrupt", "\r": "type", "\n": "type"})  # Space, Enter


def labelled(label: Label, text: str) -> str:
    """One line: the label, a colon, the text on one line (newlines become spaces).

    The text is often the service's or a tool's: it passes the sanitising boundary, so no
    escape sequence that would hide or move the cursor reaches the terminal."""
    return f"{label}: {' '.join(displayable(text, one_line=True).split())}".rstrip()


def help_lines() -> list[str]:
    """The keys as plain text, one per line."""
    lines = ["Help: keys, pressed alone (no Enter):"]
    lines += [labelled("Help", f"{keys.replace(' ', ' or ')}: {what}") for keys, _, what in KEYS]
    return lines


def state_words(session: VoiceLiveSession) -> str:
    """The connection, or the voice activity, in words: what the meters show as colour."""
    conv = session.conversation
    if conv.connection != ConnectionState.READY:
        return conv.connection.value
    vad = conv.vad
    if vad == VadState.IDLE and session.audio.pending_ms() > 0:
        vad = VadState.AGENT_SPEAKING
    if conv.muted and vad in (VadState.IDLE, VadState.USER_SPEAKING):
        return "muted"
    if conv.talking:
        return "talking"
    return VAD_WORDS[vad]


def turn_line(turn: Turn) -> str:
    """A finished utterance as one labelled line."""
    text = turn.text or "(nothing said)"
    if turn.interrupted:
        by = turn.interrupted_by or "you"
        text += f" [interrupted by {by}]"
    return labelled(ROLE_LABELS.get(turn.role, "Notice"), text)


class LabelledLines:
    """The session's observer: prints each finished turn, tool step, notice and state once."""

    def __init__(self, session: VoiceLiveSession, write: Callable[[str], None]) -> None:
        self.session = session
        self.write = write
        self.needle: str | None = None  # events containing it are read out
        self.paused = False
        self._printed: set[int] = set()  # indices of the turns already printed
        self._first_open = 0  # no turn before it waits to be printed
        self._state = ""
        self._asked: set[str] = set()  # approval requests already announced

    def __call__(self, update: Update) -> None:
        if isinstance(update, (EventSent, EventReceived)):
            activity = self.session.conversation.activity
            for line in log_lines(activity, update.direction, update.event):
                kind, _, body = line.partition("\t")  # "Tool Call:\tget_weather(...)"
                self.write(labelled("Tool", f"{kind.rstrip(':').lower()}: {body}"))
            self._event(update)
        elif isinstance(update, Notice):
            self.write(labelled("Notice", f"{SEVERITY_WORDS[update.severity]}: {update.text}"))
        elif isinstance(update, AudioLost):
            self.write(
                labelled("Notice", f"error: audio device lost: {update.message}; text only now")
            )
        self.sync()

    def sync(self) -> None:
        """Print what finished since the last call: turns, approvals asked, the state."""
        turns = self.session.conversation.turns
        for index in range(self._first_open, len(turns)):
            turn = turns[index]
            if index not in self._printed and turn.final:
                self._printed.add(index)
                if turn.text or turn.interrupted:  # a reply that only called a tool says nothing
                    self.write(turn_line(turn))
        while self._first_open in self._printed:
            self._printed.discard(self._first_open)
            self._first_open += 1
        for entry in self.pending_approvals():
            request = entry.approval_request_id or ""
            if request not in self._asked:
                self._asked.add(request)
                self.write(labelled("Tool", f"approval asked: {entry.title}: press y or n"))
        state = state_words(self.session)
        if state != self._state:
            self._state = state
            self.write(labelled("State", state))

    def pending_approvals(self) -> list[ToolActivity]:
        session = self.session
        return [
            e
            for e in session.conversation.activity.pending_approvals()
            if e.server_label not in session.approvals.auto_approve
        ]

    def _event(self, update: EventSent | EventReceived) -> None:
        if not self.needle or self.paused:
            return
        kind = str(update.event.get("type", ""))
        if self.needle in kind or self.needle in str(update.event):
            way = "sent" if isinstance(update, EventSent) else "received"
            self.write(labelled("Event", f"{way} {kind}"))


class KeyReader:
    """Keys from the terminal, one at a time, on the session's loop (no thread)."""

    def __init__(self, stdin: TextIO, on_key: Callable[[str], None]) -> None:
        self.fd = stdin.fileno()
        self.on_key = on_key
        self._line: Callable[[str], None] | None = None  # reading a typed line for it
        self._buffer = b""

    @contextlib.contextmanager
    def attached(self) -> Iterator[bool]:
        """Keys are read while inside (yields False where they cannot be); the terminal's
        modes are restored after."""
        loop = asyncio.get_running_loop()
        with keys_one_at_a_time(self.fd) as reading:
            if not reading:
                yield False
                return
            loop.add_reader(self.fd, self._readable)
            try:
                yield True
            finally:
                loop.remove_reader(self.fd)

    def read_line(self, done: Callable[[str], None]) -> None:
        """The next line typed, with echo on (Enter ends it), goes to ``done``."""
        self._line, self._buffer = done, b""
        line_mode(self.fd, True)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 1024)
        except OSError:
            data = b""
        if not data:  # end of input: as q
            asyncio.get_running_loop().remove_reader(self.fd)
            self.on_key("q")
            return
        if self._line is not None:
            self._buffer += data
            if b"\n" not in self._buffer:
                return
            line, done = self._buffer.split(b"\n", 1)[0], self._line
            self._line = None
            line_mode(self.fd, False)
            done(line.decode("utf-8", "replace").strip())
            return
        for key in data.decode("utf-8", "replace"):
            self.on_key(key)


class ScreenReaderFrontEnd:
    """The keys' actions on one session, printed as labelled lines."""

    def __init__(
        self, session: VoiceLiveSession, logs: RunLogs, out: TextIO, keys: KeyReader | None
    ) -> None:
        self.session = session
        self.logs = logs
        self.out = out
        self.keys = keys
        self.lines = LabelledLines(session, self.print)
        self._tasks: set[asyncio.Task[Any]] = set()

    def print(self, text: str) -> None:
        with contextlib.suppress(OSError):  # after a SIGHUP the terminal may be gone
            print(text, file=self.out, flush=True)

    def prompt(self, label: Label, text: str) -> None:
        """A label with the cursor after it: what is typed next is echoed on its line."""
        with contextlib.suppress(OSError):
            print(f"{label}: {text}", end="", file=self.out, flush=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def key(self, key: str) -> None:
        """One key press: its action, as on the dashboard."""
        action = ACTIONS.get(key)
        if action is not None:
            getattr(self, f"action_{action}")()

    def action_help(self) -> None:
        for line in help_lines():
            self.print(line)

    def action_quit(self) -> None:
        self.print(labelled("State", "quitting"))
        self.session.quit()

    def action_mute(self) -> None:
        muted = self.session.toggle_mute()
        self.print(
            labelled("Notice", "info: microphone muted" if muted else "info: microphone live")
        )
        self.lines.sync()

    def action_interrupt(self) -> None:
        self._spawn(self.session.interrupt())

    def action_talk(self) -> None:
        if not self.session.conversation.push_to_talk:
            self.print(labelled("Notice", "info: push to talk is off (--push-to-talk)"))
            return
        opening = not self.session.conversation.talking
        self._spawn(self.session.tap_to_talk())
        self.print(labelled("State", "talking" if opening else "sent"))

    def action_type(self) -> None:
        if self.keys is None:
            return
        self.prompt("Type", "")
        self.keys.read_line(self._typed)

    def _typed(self, text: str) -> None:
        if text:
            self._spawn(self.session.send_text(text))
        else:
            self.print(labelled("Notice", "info: nothing sent"))

    def _answer(self, approve: bool) -> bool:
        pending = self.lines.pending_approvals()
        if not pending:
            return False
        entry = pending[0]
        self._spawn(self.session.approvals.answer(entry.approval_request_id or "", approve))
        self.print(labelled("Tool", f"{'approved' if approve else 'denied'}: {entry.title}"))
        return True

    def action_approve(self) -> None:
        self._answer(True)

    def action_deny(self) -> None:
        if not self._answer(False):
            step = getattr(self.session, "step", None)  # --replay, paused
            if step is not None:
                step()

    def action_filter(self) -> None:
        if self.keys is None:
            return
        self.prompt("Filter", "")
        self.keys.read_line(self._filtered)

    def _filtered(self, needle: str) -> None:
        self.lines.needle = needle or None
        what = f"reading events with {needle!r}" if needle else "not reading events"
        self.print(labelled("Notice", f"info: {what}"))

    def action_pause_events(self) -> None:
        self.lines.paused = not self.lines.paused
        self.print(
            labelled("Notice", "info: events paused" if self.lines.paused else "info: events read")
        )

    def action_clear_events(self) -> None:
        self._filtered("")

    def action_reconnect(self) -> None:
        self.print(labelled("Notice", "info: reconnecting"))
        self.session.reconnect()

    def action_latency(self) -> None:
        timings = [t for t in self.session.conversation.latencies if t.total_ms is not None]
        if not timings:
            self.print(labelled("Notice", "info: no turn timed yet"))
        for n, timing in enumerate(timings, 1):
            stages = ", ".join(f"{name} {ms:.0f} ms" for name, ms in timing.stages())
            approx = "about " if timing.estimated else ""
            self.print(labelled("Notice", f"turn {n}: {approx}{timing.total_ms:.0f} ms ({stages})"))

    def action_usage(self) -> None:
        conv = self.session.conversation
        ledger = conv.usage
        if not ledger.responses:
            self.print(labelled("Notice", "info: no usage yet"))
            return
        for n, entry in enumerate(ledger.responses, 1):
            self.print(labelled("Notice", f"response {n}: {compact(entry.usage)}"))
        total = f"session: {compact(ledger.total)}"
        estimate = ledger.estimate(ledger.total, conv.session.model)
        if estimate is not None:
            total += f", {estimate.label()}"
        self.print(labelled("Notice", total))

    def action_export(self) -> None:
        conv = self.session.conversation
        path = self.logs.log_dir / f"{self.logs.stamp}_conversation.md"
        text = conversation_markdown(conv, conv.latencies, _clock_label)
        try:
            path.write_text(self.logs.redactor(text), encoding="utf-8")
        except OSError as exc:
            self.print(labelled("Notice", f"error: export failed: {exc.strerror}"))
            return
        self.print(labelled("Notice", f"info: conversation saved: {path}"))


def _clock_label(at: float) -> str:
    """``HH:MM:SS`` of monotonic time ``at`` (local time, as the dashboard's export)."""
    return datetime.fromtimestamp(at + time.time() - time.monotonic()).strftime("%H:%M:%S")


async def run_screen_reader(
    settings: Settings, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """``--screen-reader``: labelled lines on stdout, keys from stdin, until q or Ctrl+C."""
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    if "utf" not in (getattr(out, "encoding", "") or "utf").lower():
        out.reconfigure(errors="replace")  # type: ignore[union-attr]
    print("voicelive-tui, screen-reader mode. Press ? for the keys, q to quit.", file=out)
    if settings.demo:
        print(labelled("Notice", "info: " + DEMO_NOTICE), file=out, flush=True)
    logs = open_logs(settings)
    try:
        async with open_session(settings, logs) as opened:
            session = opened.session
            interactive = stdin.isatty()
            front: ScreenReaderFrontEnd
            keys = KeyReader(stdin, lambda k: front.key(k)) if interactive else None
            front = ScreenReaderFrontEnd(session, logs, out, keys)
            session.subscribe(front.lines)
            if opened.scripted_user is not None:
                front._spawn(opened.scripted_user.run(session))
            try:
                with (
                    quit_signals(lambda _name: session.quit()),
                    keys.attached()
                    if keys is not None
                    else contextlib.nullcontext(False) as reading,
                ):
                    if keys is not None and not reading:
                        front.print(labelled("Notice", "warning: keys need a POSIX terminal here"))
                    await session.run()
            finally:
                for task in list(front._tasks):
                    task.cancel()
        front.print(labelled("Notice", "info: goodbye"))
        return EXIT_OK
    finally:
        logs.close()
