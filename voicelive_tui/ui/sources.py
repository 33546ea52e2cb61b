"""Where the dashboard's session comes from: the configured endpoint, or the demo emulator.

The app only needs an async context manager that yields a ready-to-run
:class:`~voicelive_tui.session.VoiceLiveSession`; tests and screenshots pass their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.runner import build_audio, make_session, open_target
from voicelive_tui.session import VoiceLiveSession

SessionSource = Callable[[Settings, RunLogs], AbstractAsyncContextManager["Opened"]]


@dataclass
class Opened:
    """A session, and the scripted demo user to run next to it (if any)."""

    session: VoiceLiveSession
    demo: bool = False
    scripted_user: object | None = field(default=None)


def endpoint_source(audio: AudioBackend | None = None) -> SessionSource:
    """The normal source: open_target() (the emulator with --demo) and the settings' audio.

    In demo mode without a microphone, a scripted user speaks through a WAV input so
    that every panel has something to show.
    """

    @contextlib.asynccontextmanager
    async def open_session(settings: Settings, logs: RunLogs) -> AsyncIterator[Opened]:
        async with open_target(settings) as target:
            backend = audio if audio is not None else build_audio(settings)
            user = None
            # The backend is not started yet, so has_input is unknown: a "none" backend
            # here means no devices were found (--no-audio aside).
            no_devices = backend.kind == "none" or bool(settings.audio_problem)
            if target.speech is not None and audio is None and no_devices and not settings.no_audio:
                from voicelive_tui.ui.demo import ScriptedMic, ScriptedUser

                mic = ScriptedMic(block_ms=settings.block_ms)
                user = ScriptedUser(mic, target.speech, reason=settings.audio_problem)
                backend = mic
            yield Opened(make_session(settings, target, logs, backend), target.demo, user)

    return open_session
