"""Property: whatever text the service sends, no control sequence of its own reaches the
terminal, the logs or the export (issue 18).

Hypothesis draws strings (every control character, CSI, OSC ended by BEL or ST, DCS, the
8-bit CSI, bidi controls, and arbitrary text around them) and puts them in every text
field of every server event the reducer reads (:func:`tests.reliability.hostile.script`),
plus an outage's reason. The frames go through the session's own receive path (parse,
events log, reducer, observers, handlers), into the dashboard (a Pilot run whose driver
keeps everything it would write to the terminal, the event JSON views and the Markdown
export included) and into console mode (its printer on a string).

A sequence shaped exactly like one the app writes (SGR, cursor position) cannot be told
apart in the dashboard's stream; every other form can, and
``tests/unit/test_safe_text.py`` shows no ESC passes at all.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from azure.core.credentials import AzureKeyCredential
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.content import Content
from textual.drivers import headless_driver
from textual.widgets._toast import Toast

from tests.helpers import wait_until
from tests.reliability.hostile import script
from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.config import Settings
from voicelive_tui.console import ConsolePrinter
from voicelive_tui.logs import RunLogs
from voicelive_tui.runner import Opened
from voicelive_tui.session import VoiceLiveSession
from voicelive_tui.session.frames import parse_server_event
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.widgets.approval import ApprovalScreen
from voicelive_tui.ui.widgets.json_view import JsonScreen

FORMS = [
    "\x1b[2J",
    "\x1b[6n",
    "\x1b[>c",
    "\x1b]0;title\x07",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x1b]52;c;cHduZWQ=\x1b\\",
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP$qm\x1b\\",
    "\x1bP+q544e\x1b\\",
    "\x9b2J",
    "\x9d0;t\x9c",
    "\x90q\x9c",
    "\x1b",
    "\x07",
    "[bold]",
    "[link=file:///etc/passwd]x[/link]",
    "[/]",
]
CONTROL = st.characters(
    codec="utf-8",
    categories=["Cc", "Cf"],
    include_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
HOSTILE_TEXT = st.lists(
    st.one_of(st.sampled_from(FORMS), CONTROL, st.text(max_size=4)), min_size=1, max_size=8
).map("".join)

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters other than newline and tab: none in a file or a console line."""
APP_SEQUENCES = re.compile(r"\x1b\[[0-9;:]*m|\x1b\[\d+;\d+H|\x1b\]22;[a-z-]*\x07")
"""All Textual writes itself while drawing (measured): SGR, cursor position, pointer shape."""
CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
JSON_VIEWS, JSON_STRIDE = 4, 9
"""The JSON views opened per dashboard run: every ninth line, from the first."""


class ScriptedSession(VoiceLiveSession):
    """Receives ``frames`` as a live session does (parse, record, handlers), then an
    outage, then idles until quit. Nothing connects."""

    def __init__(self, settings: Settings, logs: RunLogs, frames: list[bytes], reason: str):
        super().__init__(
            settings,
            endpoint="https://hostile.invalid/",
            credential=AzureKeyCredential("hostile"),
            audio=NullBackend(),
            logs=logs,
        )
        self.frames = frames
        self.reason = reason
        self.fed = asyncio.Event()
        self._stop = asyncio.Event()

    def quit(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        for raw in self.frames:
            event, problem = parse_server_event(raw)
            if event is None:
                self.dialogue.skip_frame(raw, problem)
            else:
                await self.dialogue.received(event, event.as_dict())
        self._record_outage(self.reason, 0.5, connected=True)
        self.fed.set()
        await self._stop.wait()
        self.conversation.closed()
        self.logs.flush()


def frames(text: str) -> list[bytes]:
    return [json.dumps(event).encode() for event in script(text)]


def scripted_settings(log_dir: Path) -> Settings:
    return Settings(
        endpoint="https://hostile.invalid/", api_key="k", log_dir=log_dir, greeting=False
    )


def scripted_app(settings_: Settings, logs: RunLogs, text: str, reason: str) -> VoiceLiveApp:
    """The dashboard on a :class:`ScriptedSession` of ``text`` and ``reason``."""

    @asynccontextmanager
    async def source(_settings: Settings, _logs: RunLogs) -> AsyncIterator[Opened]:
        yield Opened(ScriptedSession(settings_, logs, frames(text), reason))

    return VoiceLiveApp(settings_, source=source, logs=logs, clock=WallClock(0.0))


def assert_files_clean(log_dir: Path) -> None:
    for path in log_dir.iterdir():
        text = path.read_text(encoding="utf-8")
        found = sorted({repr(c) for c in RAW_CONTROL.findall(text)})
        assert not found, f"{path.name} holds raw {found}"


class TerminalStream(headless_driver.HeadlessDriver):
    """The test driver, but drawing: everything the app would write to the terminal."""

    written: list[str] = []

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        self.written.append(data)


@contextmanager
def drawing_driver() -> Iterator[list[str]]:
    written: list[str] = []
    TerminalStream.written = written
    original = headless_driver.HeadlessDriver
    headless_driver.HeadlessDriver = TerminalStream  # type: ignore[misc]
    try:
        yield written
    finally:
        headless_driver.HeadlessDriver = original  # type: ignore[misc]


def foreign_sequences(stream: str) -> list[str]:
    """ESC, C1, BEL and bidi characters in ``stream`` that the app did not write itself,
    each with a little of what surrounds it."""
    rest = APP_SEQUENCES.sub("", stream).replace("\r", "").replace("\n", "")
    return sorted(
        {repr(rest[max(0, m.start() - 8) : m.end() + 8]) for m in RAW_CONTROL.finditer(rest)}
    )


@given(text=HOSTILE_TEXT, reason=HOSTILE_TEXT)
@settings(max_examples=40, deadline=None, suppress_health_check=CHECKS)
def test_console_shows_no_server_sequence(tmp_path_factory, text: str, reason: str) -> None:
    log_dir = tmp_path_factory.mktemp("console")
    out = io.StringIO()

    async def run() -> None:
        with RunLogs(log_dir) as logs:
            session = ScriptedSession(scripted_settings(log_dir), logs, frames(text), reason)
            session.subscribe(ConsolePrinter(session, out=out, stdin=io.StringIO()))
            task = asyncio.ensure_future(session.run())
            await asyncio.wait_for(session.fed.wait(), 10)
            session.quit()
            await asyncio.wait_for(task, 10)

    asyncio.run(run())
    console = out.getvalue()
    assert "Agent responded with audio transcript" in console
    found = sorted({repr(c) for c in RAW_CONTROL.findall(console)})
    assert not found, f"the console wrote raw {found}"
    assert_files_clean(log_dir)


@given(text=HOSTILE_TEXT, reason=HOSTILE_TEXT)
@settings(max_examples=3, deadline=None, suppress_health_check=CHECKS)
def test_dashboard_draws_no_server_sequence(tmp_path_factory, text: str, reason: str) -> None:
    log_dir = tmp_path_factory.mktemp("dashboard")
    settings_ = scripted_settings(log_dir)

    async def run() -> None:
        logs = RunLogs(log_dir)
        app = scripted_app(settings_, logs, text, reason)
        async with app.run_test(size=(140, 45), notifications=True) as pilot:

            def fed() -> bool:
                session: Any = app.session
                return session is not None and session.fed.is_set()

            await wait_until(fed, 15.0, "the script fed", pause=pilot.pause)
            if app.screen.__class__.__name__ == "ApprovalScreen":
                await pilot.press("n")
            app.event_log.focus()
            await pilot.press("home")
            # A few lines' JSON (event_json of every event: tests/unit/test_safe_text.py).
            for _ in range(JSON_VIEWS):
                before = len(written)
                await pilot.press("enter")  # the line's JSON

                def drawn(before: int = before) -> bool:
                    return app.screen.__class__.__name__ == "JsonScreen" and len(written) > before

                await wait_until(drawn, 5.0, "the JSON drawn", pause=pilot.pause)
                await pilot.press("escape")
                app.event_log.action_cursor(JSON_STRIDE)
            await pilot.press("e")
            await wait_until(
                lambda: any(log_dir.glob("*_conversation.md")), 5.0, "the export", pause=pilot.pause
            )
            await pilot.press("q")
        logs.close()

    with drawing_driver() as written:
        asyncio.run(run())
    stream = "".join(written)
    assert "Warning: Warn" in stream
    found = foreign_sequences(stream)
    assert not found, f"the dashboard wrote {found}"
    assert_files_clean(log_dir)


MARKUP = "[bold red]loud[/] [link=file:///etc/passwd]click[/link]"


async def test_server_text_is_never_read_as_rich_markup(tmp_path: Path) -> None:
    """A toast, the event stream and the JSON view's title show brackets as they came."""
    settings_ = scripted_settings(tmp_path)
    logs = RunLogs(tmp_path)
    app = scripted_app(settings_, logs, MARKUP, MARKUP)
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await wait_until(
            lambda: isinstance(app.screen, ApprovalScreen),
            15.0,
            "the MCP prompt",
            pause=pilot.pause,
        )
        await pilot.press("n")
        await wait_until(
            lambda: any(MARKUP in toast.render().plain for toast in app.screen.query(Toast)),
            5.0,
            "the warning's toast with its brackets",
            pause=pilot.pause,
        )
        app.event_log.focus()
        app.event_log.set_filter("x.unknown")  # the event whose type is the server's text
        await pilot.press("enter")
        await wait_until(
            lambda: isinstance(app.screen, JsonScreen) and app.screen.query("#json-body"),
            5.0,
            pause=pilot.pause,
        )
        body = app.screen.query_one("#json-body")
        # The getter gives the title back as markup: read as markup, it is the text.
        assert MARKUP in Content.from_markup(str(body.border_title)).plain, body.border_title
        await pilot.press("escape", "q")
    logs.close()
