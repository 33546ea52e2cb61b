"""A deterministic scripted session for snapshot tests and screenshots.

:class:`ReplaySession` is a real :class:`~voicelive_tui.session.session.VoiceLiveSession` that,
instead of connecting, feeds a fixed script of Voice Live events (a greeting, a spoken
question, a barge-in, a reply still streaming) through the session's own recording path
on a frozen clock. Every id, time and level is fixed, so the screen is the same on any
machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from azure.core.credentials import AzureKeyCredential

from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.audio.base import SILENCE_DB
from voicelive_tui.config import Settings
from voicelive_tui.conversation.latency import TurnTiming
from voicelive_tui.logs import RunLogs
from voicelive_tui.runner import Opened
from voicelive_tui.session.session import VoiceLiveSession
from voicelive_tui.sources import SessionSource
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.widgets.latency_view import LatencyScreen
from voicelive_tui.ui.widgets.levels import FPS
from voicelive_tui.updates import StateChanged

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from voicelive_tui.ui.app import VoiceLiveApp


def fixed_clock(start_unix: float = 1_767_261_600.0) -> WallClock:
    """A clock where monotonic 0.0 is 2026-01-01 10:00:00 UTC, for reproducible screens."""
    return WallClock(offset=start_unix, tz=timezone.utc)


ENDPOINT = "https://contoso-voice.services.ai.azure.com/"
CHUNK_MS = 150
APPEND_MS = 100


class ReplayAudio(NullBackend):
    """No devices; reports a microphone so the status bar reads 'live'."""

    @property
    def has_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "scripted replay"


def scripted_usage(n: int, words: int) -> dict[str, Any]:
    """A deterministic ``response.usage`` for reply ``n`` of ``words`` words (the
    emulator's rates: 20 audio tokens per second out, instructions cached after the first)."""
    audio_in, text_in, cached = 40 + 10 * n, 120, 0 if n == 1 else 96
    text_out, audio_out = words, words * CHUNK_MS * 2 * 20 // 1000
    return {
        "total_tokens": audio_in + text_in + text_out + audio_out,
        "input_tokens": audio_in + text_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "cached_tokens": cached,
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def scripted_limits(n: int) -> dict[str, Any]:
    """``rate_limits.updated`` before reply ``n``: tokens running low by the third."""
    return {
        "type": "rate_limits.updated",
        "rate_limits": [
            {"name": "requests", "limit": 1000, "remaining": 1000 - n, "reset_seconds": 60.0},
            {
                "name": "tokens",
                "limit": 2000,
                "remaining": max(0, 1900 - 600 * n),
                "reset_seconds": 42.0,
            },
        ],
    }


def _pcm_b64(ms: int) -> str:
    return base64.b64encode(bytes(ms * 48)).decode("ascii")  # 24 kHz PCM16: 48 bytes per ms


class ReplaySession(VoiceLiveSession):
    """Plays SCRIPT into the conversation state and the observers, then idles until quit."""

    def __init__(self, settings: Settings, logs: RunLogs) -> None:
        self.now = 0.0
        super().__init__(
            settings,
            endpoint=ENDPOINT,
            credential=AzureKeyCredential("replay"),
            audio=ReplayAudio(),
            logs=logs,
            clock=lambda: self.now,
        )
        self.replayed = asyncio.Event()
        self._stop = asyncio.Event()
        self.level_trace = level_trace()
        self.audio.levels[:] = self.level_trace[-1]

    def quit(self) -> None:
        self._stop.set()

    def reconnect(self) -> None:
        self.notice("This is a scripted replay: there is nothing to reconnect to.")

    async def run(self) -> None:
        self.conversation.connecting()
        self._emit(StateChanged(self.now))
        self._script()
        self._emit(StateChanged(self.now))
        self.replayed.set()
        await self._stop.wait()
        self.conversation.closed()
        self.logs.flush()

    # -- the script -------------------------------------------------------------

    def _at(self, t: float, direction: str, event: dict[str, Any]) -> None:
        self.now = t
        self.dialogue.record(direction, event)  # the session's own path: logs, state, observers

    def _appends(self, start: float, end: float) -> None:
        t = start
        while t < end:
            self._at(t, "sent", {"type": "input_audio_buffer.append", "audio": _pcm_b64(APPEND_MS)})
            t += APPEND_MS / 1000

    def _reply(self, t: float, n: int, text: str, *, words: int | None = None) -> float:
        """An agent reply streaming ``text`` (or its first ``words`` words); returns the end."""
        rid, iid = f"resp_{n:03d}", f"item_a{n:03d}"
        self._at(
            t,
            "received",
            {"type": "response.created", "response": {"id": rid, "status": "in_progress"}},
        )
        self._at(t, "received", scripted_limits(n))
        self._at(
            t,
            "received",
            {
                "type": "response.output_item.added",
                "response_id": rid,
                "item": {"id": iid, "type": "message", "role": "assistant"},
            },
        )
        parts = text.split()
        shown = parts if words is None else parts[:words]
        t += 0.4
        for i, word in enumerate(shown):
            self._appends(t, t + 0.3)
            self._at(
                t,
                "received",
                {
                    "type": "response.audio.delta",
                    "response_id": rid,
                    "item_id": iid,
                    "delta": _pcm_b64(CHUNK_MS * 2),
                },
            )
            delta = word if i == 0 else " " + word
            self._at(
                t + 0.01,
                "received",
                {
                    "type": "response.audio_transcript.delta",
                    "response_id": rid,
                    "item_id": iid,
                    "delta": delta,
                },
            )
            t += 0.3
        if words is None:
            self._at(
                t, "received", {"type": "response.audio.done", "response_id": rid, "item_id": iid}
            )
            self._at(
                t,
                "received",
                {
                    "type": "response.audio_transcript.done",
                    "response_id": rid,
                    "item_id": iid,
                    "transcript": text,
                },
            )
            self._at(
                t,
                "received",
                {
                    "type": "response.done",
                    "response": {
                        "id": rid,
                        "status": "completed",
                        "output": [{"id": iid, "type": "message"}],
                        "usage": scripted_usage(n, len(parts)),
                    },
                },
            )
        return t

    def _user(self, t: float, n: int, transcript: str, speech_s: float) -> float:
        iid = f"item_u{n:03d}"
        self._at(
            t,
            "received",
            {
                "type": "input_audio_buffer.speech_started",
                "item_id": iid,
                "audio_start_ms": int(t * 1000),
            },
        )
        self._appends(t, t + speech_s)
        t += speech_s
        self._at(
            t,
            "received",
            {
                "type": "input_audio_buffer.speech_stopped",
                "item_id": iid,
                "audio_end_ms": int(t * 1000),
            },
        )
        self._at(t, "received", {"type": "input_audio_buffer.committed", "item_id": iid})
        self._at(
            t + 0.01,
            "received",
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": iid,
                "content_index": 0,
                "transcript": transcript,
            },
        )
        return t

    def _script(self) -> None:
        voice = {"name": self.settings.voice, "type": "azure-standard"}
        session = {"id": "sess_8Lq2VdemoReplay", "model": "gpt-realtime", "voice": voice}
        self._at(
            0.0,
            "sent",
            {
                "type": "session.update",
                "session": {
                    "voice": voice,
                    "turn_detection": {"type": "server_vad", "threshold": 0.5},
                },
            },
        )
        self._at(0.08, "received", {"type": "session.created", "session": session})
        self._at(0.15, "received", {"type": "session.updated", "session": session})
        self._at(0.16, "sent", {"type": "response.create"})
        t = self._reply(0.3, 1, "Hello! I am your voice assistant. How can I help you today?")
        t = self._user(t + 1.0, 1, "What's the weather like in Lisbon today?", 2.1)
        t = self._reply(
            t + 0.02, 2, "It is sunny in Lisbon, around 24 degrees, with a light breeze."
        )
        t = self._user(t + 1.2, 2, "Tell me a long story about the sea.", 1.8)
        story = "Once upon a time, a small boat left the harbour at dawn, and the sea was calm."
        t = self._reply(t + 0.02, 3, story, words=9)
        # The user talks over the story: the session cancels it and truncates what was unheard.
        self._at(
            t,
            "received",
            {
                "type": "input_audio_buffer.speech_started",
                "item_id": "item_u003",
                "audio_start_ms": int(t * 1000),
            },
        )
        self.conversation.interrupt("item_a003", 2100)
        self._at(t + 0.01, "sent", {"type": "response.cancel"})
        self._at(
            t + 0.01,
            "sent",
            {
                "type": "conversation.item.truncate",
                "item_id": "item_a003",
                "content_index": 0,
                "audio_end_ms": 2100,
            },
        )
        self._at(
            t + 0.05,
            "received",
            {"type": "response.done", "response": {"id": "resp_003", "status": "cancelled"}},
        )
        self._at(
            t + 0.06,
            "received",
            {
                "type": "conversation.item.truncated",
                "item_id": "item_a003",
                "content_index": 0,
                "audio_end_ms": 2100,
            },
        )
        self._appends(t, t + 1.6)
        t += 1.6
        self._at(
            t,
            "received",
            {
                "type": "input_audio_buffer.speech_stopped",
                "item_id": "item_u003",
                "audio_end_ms": int(t * 1000),
            },
        )
        self._at(
            t + 0.01,
            "received",
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_u003",
                "content_index": 0,
                "transcript": "Sorry, just the short version please.",
            },
        )
        self._reply(t + 0.02, 4, "Sure. A boat went out, met a storm, and came home safe.", words=7)


def level_trace(seconds: float = 10.0) -> list[np.ndarray]:
    """Ten seconds of made-up but plausible levels: the user, then the agent speaking."""
    out = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        mic = -28 + 8 * math.sin(t * 9) if 1.0 < t < 3.5 else SILENCE_DB
        speaker = -20 + 6 * math.sin(t * 7) if t > 4.2 else SILENCE_DB
        out.append(np.array([mic, mic + 9, speaker, speaker + 9], dtype=np.float32))
    return out


def scripted_app(log_dir: Path, **settings: Any) -> VoiceLiveApp:
    """The dashboard on a ReplaySession: frozen clock, level history from the script."""
    from voicelive_tui.ui.app import VoiceLiveApp

    config = Settings(log_dir=log_dir, **settings)
    return VoiceLiveApp(
        config, source=replay_source(config), clock=fixed_clock(), live_meters=False
    )


async def settle(pilot: Pilot[Any], timeout: float = 10.0) -> None:
    """Wait until the script has played and every turn and event is on screen."""

    def done() -> bool:
        app = pilot.app
        session = getattr(app, "session", None)
        if not isinstance(session, ReplaySession) or not session.replayed.is_set():
            return False
        shown = len(app.conversation_panel.query("TurnView"))  # type: ignore[attr-defined]
        return shown == len(session.conversation.turns) and not app.dashboard.pending  # type: ignore[attr-defined]

    for _ in range(int(timeout / 0.02)):
        if done():
            break
        await pilot.pause(0.02)
    else:
        raise RuntimeError("the scripted session did not play")
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def replay_source(settings: Settings) -> SessionSource:
    """A session source for VoiceLiveApp that yields a ReplaySession."""

    @contextlib.asynccontextmanager
    async def open_session(_settings: Settings, logs: RunLogs) -> AsyncIterator[Opened]:
        yield Opened(ReplaySession(settings, logs))

    return open_session


SCRIPTED_TIMINGS = (
    TurnTiming(speech_end=0, speech_stopped=0.52, response_created=0.57,
               first_delta=0.78, first_sound=0.80, item_id="a1"),
    TurnTiming(speech_end=10, speech_stopped=10.55, response_created=10.75,
               first_delta=11.4, first_sound=11.62, item_id="a2"),
    TurnTiming(kind="typed", sent=20.0, first_output=20.35),
    TurnTiming(speech_end=30, speech_stopped=30.5, estimated=True),
)  # fmt: skip
"""Fixed turn timings for the latency view's snapshot and screenshot."""


async def show_usage(pilot: Pilot[int]) -> None:
    """The scripted session, and the usage view open."""
    await settle(pilot)
    await pilot.press("u")
    await pilot.pause()


async def show_latency(pilot: Pilot[int]) -> None:
    """The scripted session with :data:`SCRIPTED_TIMINGS`, and the latency view open."""
    await settle(pilot)
    session = pilot.app.session  # type: ignore[attr-defined]
    session.conversation.latencies[:] = [replace(t) for t in SCRIPTED_TIMINGS]
    await pilot.press("l")
    # On a busy machine one pause can catch the view before its bars are laid out at the
    # screen's width: wait for the screen, then let it lay out.
    for _ in range(200):
        if isinstance(pilot.app.screen, LatencyScreen):
            break
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()
