"""The one wiring path of console mode and the dashboard: endpoint, credential, audio, session.

Both front ends open their session with :func:`open_session`; the logs come from
:func:`open_logs`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.config import Settings
from voicelive_tui.conversation.summary import session_summary
from voicelive_tui.demo import ScriptedMic, ScriptedUser
from voicelive_tui.logs import RunLogs
from voicelive_tui.session import VoiceLiveSession
from voicelive_tui.session.auth import (
    DEMO_KEY,
    CachedTokenCredential,
    Credential,
    make_token_credential,
    needs_token_credential,
)

log = logging.getLogger(__name__)


DEMO_NOTICE = (
    "DEMO: talking to the embedded local Voice Live emulator "
    "(set AZURE_VOICELIVE_ENDPOINT or --endpoint to talk to Azure)"
)


Speech = Callable[[str, int], Awaitable[bytes]]


@dataclass
class Target:
    """Where to connect and how to authenticate."""

    endpoint: str
    credential: Credential
    token_credential: AsyncTokenCredential | None
    demo: bool
    speech: Speech | None = None
    """Text to PCM16 at a rate: the demo's scripted user speaks with the emulator's voice."""


@contextlib.asynccontextmanager
async def open_target(
    settings: Settings, token_credential: AsyncTokenCredential | None = None
) -> AsyncIterator[Target]:
    """The endpoint to use: the embedded emulator in demo mode, else the configured one.

    ``token_credential`` replaces the one --credential would build (tests pass a double).
    """
    if settings.demo:
        from voicelive_tui.emulator.server import run_emulator
        from voicelive_tui.emulator.speech import synthesize

        async with run_emulator(port=0) as emulator:
            log.info("Started the embedded emulator at %s", emulator.endpoint)
            key = AzureKeyCredential(DEMO_KEY)
            yield Target(emulator.endpoint, key, None, demo=True, speech=synthesize)
        return
    owned = None
    if token_credential is None and needs_token_credential(settings):
        token_credential = owned = make_token_credential(settings)
    if token_credential is not None:
        token_credential = CachedTokenCredential(token_credential)
    credential: Credential
    if settings.uses_api_key:
        credential = AzureKeyCredential(settings.api_key or "")
    else:
        assert token_credential is not None
        credential = token_credential
    try:
        yield Target(settings.endpoint or "", credential, token_credential, demo=False)
    finally:
        if owned is not None:
            await owned.close()


def open_logs(settings: Settings) -> RunLogs:
    """The run's three log files, with the configured secrets registered for redaction."""
    return RunLogs(
        settings.log_dir,
        verbose=settings.verbose,
        secrets=(settings.api_key, settings.agent_connection_string),
    )


def build_audio(settings: Settings) -> AudioBackend:
    """The audio backend the settings ask for: WAV files, none, or the sound devices
    (a text-only backend with a one-line notice when there are none)."""
    from voicelive_tui.audio.backends import NullBackend
    from voicelive_tui.audio.factory import make_backend

    if settings.audio_problem:  # a forwarded sound server that does not answer (--demo)
        return NullBackend(notice=f"text only: {settings.audio_problem}")
    return make_backend(
        "none" if settings.no_audio else "auto",
        input_device=settings.input_device,
        output_device=settings.output_device,
        block_ms=settings.block_ms,
        full_duplex=settings.full_duplex,
        sticky_device=settings.sticky_device,
        input_wav=settings.input_wav,
        output_wav=settings.output_wav,
        wav_speed=settings.wav_speed,
        record=settings.record,
        forwarded=settings.pulse_forwarded,
    )


def make_session(
    settings: Settings, target: Target, logs: RunLogs, audio: AudioBackend
) -> VoiceLiveSession:
    """A session wired to the target, logs and audio."""
    return VoiceLiveSession(
        settings,
        endpoint=target.endpoint,
        credential=target.credential,
        token_credential=target.token_credential,
        audio=audio,
        logs=logs,
    )


@dataclass
class Opened:
    """A session, and the scripted demo user to run next to it (if any)."""

    session: VoiceLiveSession
    demo: bool = False
    scripted_user: ScriptedUser | None = None


@contextlib.asynccontextmanager
async def open_session(
    settings: Settings,
    logs: RunLogs,
    *,
    audio: AudioBackend | None = None,
    token_credential: AsyncTokenCredential | None = None,
    scripted_user: bool = False,
) -> AsyncIterator[Opened]:
    """A session ready to run: the target (the embedded emulator with --demo), the audio the
    settings ask for (or ``audio``), the logs.

    With ``scripted_user`` (the dashboard), a demo without sound devices gets a scripted
    user who speaks through a WAV input, so that every panel has something to show.
    """
    async with open_target(settings, token_credential) as target:
        backend = audio if audio is not None else build_audio(settings)
        user = None
        # The backend is not started yet, so has_input is unknown: a "none" backend
        # here means no devices were found (--no-audio aside).
        no_devices = backend.kind == "none" or bool(settings.audio_problem)
        speech = target.speech
        if scripted_user and speech and audio is None and no_devices and not settings.no_audio:
            mic = ScriptedMic(block_ms=settings.block_ms)
            user = ScriptedUser(mic, speech, reason=settings.audio_problem)
            backend = mic
        session = make_session(settings, target, logs, backend)
        try:
            yield Opened(session, target.demo, user)
        finally:
            if settings.summary_json is not None:
                write_summary(settings.summary_json, session, settings.budget)


def write_summary(path: Path, session: VoiceLiveSession, budget: float | None = None) -> None:
    """``--summary-json``: latency by stage, usage and cost, at exit (see the README)."""
    summary = session_summary(session.conversation, budget)
    try:
        path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        log.error("Could not write the summary to %s: %s", path, exc.strerror)
