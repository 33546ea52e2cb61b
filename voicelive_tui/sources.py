"""Where the dashboard's session comes from: the configured endpoint, or the demo emulator.

The app only needs an async context manager that yields an
:class:`~voicelive_tui.runner.Opened` session; tests and screenshots pass their own.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial

from azure.core.credentials import AzureKeyCredential

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.replay import Replay, ReplaySession
from voicelive_tui.runner import Opened, build_audio, open_session

SessionSource = Callable[[Settings, RunLogs], AbstractAsyncContextManager[Opened]]


def endpoint_source(audio: AudioBackend | None = None) -> SessionSource:
    """The normal source: :func:`~voicelive_tui.runner.open_session`, the wiring console
    mode uses too, with the demo's scripted user when there is no microphone."""
    return partial(open_session, audio=audio, scripted_user=True)


def replay_source(
    replay: Replay, speed: float, speaker: AudioBackend | None = None
) -> SessionSource:
    """``--replay``: a past session, fed from its events log; no network, no credentials.
    ``speaker`` plays the recording's sound (the sound devices, when there are any)."""

    @contextlib.asynccontextmanager
    async def open_replay(settings: Settings, logs: RunLogs) -> AsyncIterator[Opened]:
        session = ReplaySession(
            replay,
            speed,
            speaker=speaker,
            settings=settings,
            endpoint="replay://" + replay.events_path.name,
            # Never sent (nothing connects); random, so that registering it as a secret
            # masks nothing the replay says (a fixed "replay" masked the word itself).
            credential=AzureKeyCredential(secrets.token_urlsafe(24)),
            logs=logs,
        )
        yield Opened(session)

    return open_replay


def replay_speaker(settings: Settings, replay: Replay) -> AudioBackend | None:
    """The sound devices to play a replay's recording on, if it has one and there are."""
    if replay.recording is None or settings.no_audio or settings.speed != 1.0:
        return None
    backend = build_audio(settings)
    return backend if backend.kind == "sounddevice" else None
