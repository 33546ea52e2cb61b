"""DashboardScreen: the panels, and the one place that turns session state into views.

The screen composes the status bar, the conversation, the event stream, the levels panel,
the two inputs and the key bar. It renders from the session's pure
:class:`~voicelive_tui.conversation.reducer.Conversation` through :mod:`voicelive_tui.ui.view`:
every widget receives a frozen view and repaints only when it differs from the last.

Repaint budget: the event stream takes batches at most ``EVENTS_HZ`` times a second, the
conversation and status at most ``STATE_HZ``, the meters at most ``FPS``. The only clock is
the audio sampler, since audio threads never call into the UI (they write a levels array);
the event and state frames ride on its ticks, so one compositor pass draws them all. The
sampler's frames in turn ride on the session's activity (each microphone block sent, each
event), which wakes the loop anyway; its own timer wakes it only when nothing else does
(:class:`~voicelive_tui.ui.throttle.FrameClock`).
"""

from __future__ import annotations

import time
from collections import deque

from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Static

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.conversation.turns import ConnectionState
from voicelive_tui.session import VoiceLiveSession
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.throttle import FrameClock, Throttle
from voicelive_tui.ui.view import AudioStatus, expires_in_label, status_view, vad_view
from voicelive_tui.ui.widgets.conversation import ConversationPanel
from voicelive_tui.ui.widgets.events import EventLog
from voicelive_tui.ui.widgets.inputs import FilterInput, MessageInput
from voicelive_tui.ui.widgets.keys import KeyBar
from voicelive_tui.ui.widgets.levels import FPS, LevelsPanel
from voicelive_tui.ui.widgets.status import StatusBar
from voicelive_tui.updates import EventReceived, EventSent

WIDE_MIN_COLUMNS = 120
"""At this width and more the three panels sit side by side; below, they stack."""
MIN_SIZE = (60, 18)
"""Below this many columns or rows the panels would be empty: a notice shows instead."""
EVENTS_HZ = 4
STATE_HZ = 10


def audio_status(audio: AudioBackend) -> AudioStatus:
    """Read what the dashboard shows of the audio backend (loop thread, cheap).

    Underruns and overflows are the sound devices' glitches; a WAV file or the scripted
    demo user has no real-time device to starve, so none are shown for them."""
    devices = audio.kind == "sounddevice"
    stats = audio.stats() if devices else {}
    return AudioStatus(
        has_input=audio.has_input,
        playing=audio.pending_ms() > 0,
        devices=_devices_line(audio) if devices else None,
        underruns=stats.get("underruns", 0),
        overflows=stats.get("overflows", 0),
    )


def _devices_line(audio: AudioBackend) -> str:
    line = audio.describe()
    if audio.faulted:
        return f"{line} - r to retry now" if audio.recovering else f"{line} - r to retry"
    return line


class DashboardScreen(Screen[None]):
    """Conversation, live events and audio levels of one Voice Live session."""

    HORIZONTAL_BREAKPOINTS = [
        (0, "-cramped"),
        (MIN_SIZE[0], "-narrow"),
        (WIDE_MIN_COLUMNS, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_SIZE[1], "-tall")]
    AUTO_FOCUS = None

    status_bar = getters.query_one("#status", StatusBar)
    conversation_panel = getters.query_one("#conversation", ConversationPanel)
    event_log = getters.query_one("#events", EventLog)
    filter_input = getters.query_one("#filter", FilterInput)
    levels_panel = getters.query_one("#levels", LevelsPanel)
    message_input = getters.query_one("#message", MessageInput)

    def __init__(self, clock: WallClock) -> None:
        super().__init__()
        self.clock = clock
        self.pending: deque[EventSent | EventReceived] = deque()
        """Events queued by the session's observer, drawn at the next events frame."""
        self._session: VoiceLiveSession | None = None
        self._host = ""
        self._mode = ""
        self._scripted = False
        self._audio = AudioStatus()
        self._events = Throttle(self, 1 / EVENTS_HZ, self._draw_events)
        self._state = Throttle(self, 1 / STATE_HZ, self._draw_state)
        self.frame_clock = FrameClock(self, FPS, self._sample_audio)
        """The meters' sampler, which the event and state frames ride."""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="panels"):
            yield ConversationPanel(self.clock.label, id="conversation")
            with Vertical(id="events-panel"):
                yield EventLog(self.clock, id="events")
                yield FilterInput(placeholder="filter: type prefix or text", id="filter")
            yield LevelsPanel(id="levels")
        yield Static(id="too-small")
        yield MessageInput(
            placeholder="message to the agent (Enter sends, Esc closes)", id="message"
        )
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.filter_input.display = False
        self.message_input.display = False
        # Held for the frame paths, which also run while the app tears the screen down.
        self._status_bar = self.status_bar
        self._conversation = self.conversation_panel
        self._event_log = self.event_log
        self._levels = self.levels_panel

    def on_resize(self, event: Resize) -> None:
        width, height = event.size
        if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
            self.query_one("#too-small", Static).update(too_small_notice(width, height))

    # -- wiring -----------------------------------------------------------------

    def show_session(
        self, session: VoiceLiveSession, *, host: str, mode: str, scripted: bool, live: bool
    ) -> None:
        """Start showing ``session``; ``live``: sample its levels (else a replayed trace)."""
        self._session = session
        self._host, self._mode, self._scripted = host, mode, scripted
        levels = self._levels
        if live:
            session.audio.metering = True  # the meters below read what it measures
            self.frame_clock.start()
            self._events.ride()
            self._state.ride()
        else:  # a scripted session brings its own level history
            for i, reading in enumerate(getattr(session, "level_trace", ())):
                levels.sample(reading, i / FPS)
        self._audio = audio_status(session.audio)
        self._draw_state()

    def on_unmount(self) -> None:
        self.frame_clock.stop()

    def session_active(self) -> None:
        """The session did something on the loop (sent a block, got an event): the loop
        is awake anyway, so a frame due now is drawn in this wake-up, not in one of its
        own."""
        self.frame_clock.chance()

    # -- drawing ----------------------------------------------------------------

    def events_arrived(self) -> None:
        """The observer queued events: draw them at the next events frame."""
        self._events.request()

    def state_changed(self, *, now: bool = False) -> None:
        """The conversation changed: redraw at the next state frame.

        Streaming text waits for the frame; a change of the voice activity or connection
        state (a few a minute) and ``now`` (a key press) are drawn at once.
        """
        session = self._session
        if session is not None and not now:
            conv = session.conversation
            now = (
                vad_view(conv, self._audio) != self._levels.vad
                or conv.connection.value != self._status_bar.view.connection
            )
        if now:
            self._state.flush()
        else:
            self._state.request()

    def _draw_events(self) -> None:
        if self.pending and self._event_log.is_attached:
            batch = list(self.pending)
            self.pending.clear()
            self._event_log.add_events(batch)

    def _draw_state(self) -> None:
        session = self._session
        if session is None or not self._conversation.is_attached:
            return
        conv = session.conversation
        self._conversation.sync(conv.turns)
        self._status_bar.view = status_view(
            conv,
            self._audio,
            host=self._host,
            mode=self._mode,
            now=session.clock(),
            wall_now=time.time(),
            scripted=self._scripted,
        )
        self._levels.vad = vad_view(conv, self._audio)

    def _sample_audio(self) -> None:
        """FPS times a second: the meters, and the audio status when it changed."""
        session = self._session
        if session is None:
            return
        self._levels.sample(session.audio.levels, session.clock())
        audio = audio_status(session.audio)
        conv = session.conversation
        counting = conv.connection == ConnectionState.RECONNECTING or (
            expires_in_label(conv.expires_in(time.time())) is not None
        )
        if audio != self._audio or counting:  # countdowns tick while shown
            self._audio = audio
            self._state.request()
        self._events.tick()
        self._state.tick()


def too_small_notice(width: int, height: int) -> str:
    """What shows instead of panels too small to hold anything."""
    need_w, need_h = MIN_SIZE
    return (
        f"Terminal too small: {width}x{height}. The dashboard needs {need_w}x{need_h}: "
        "enlarge the window. The session goes on meanwhile; m mutes, space interrupts, q quits."
    )
