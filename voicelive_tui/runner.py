"""Wiring shared by console mode and the dashboard: endpoint, credential, audio, logs, session."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.auth import (
    DEMO_KEY,
    CachedTokenCredential,
    Credential,
    make_token_credential,
    needs_token_credential,
)
from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.session import VoiceLiveSession

log = logging.getLogger(__name__)

DEMO_NOTICE = (
    "DEMO: talking to the embedded local Voice Live emulator "
    "(set AZURE_VOICELIVE_ENDPOINT or --endpoint to talk to Azure)"
)


@dataclass
class Target:
    """Where to connect and how to authenticate."""

    endpoint: str
    credential: Credential
    token_credential: AsyncTokenCredential | None
    demo: bool


@contextlib.asynccontextmanager
async def open_target(
    settings: Settings, token_credential: AsyncTokenCredential | None = None
) -> AsyncIterator[Target]:
    """The endpoint to use: the embedded emulator in demo mode, else the configured one.

    ``token_credential`` replaces the one --credential would build (tests pass a double).
    """
    if settings.demo:
        from voicelive_tui.emulator.server import run_emulator

        async with run_emulator(port=0) as emulator:
            log.info("Started the embedded emulator at %s", emulator.endpoint)
            yield Target(emulator.endpoint, AzureKeyCredential(DEMO_KEY), None, demo=True)
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
    from voicelive_tui.audio.factory import make_backend

    return make_backend(
        "none" if settings.no_audio else "auto",
        input_device=settings.input_device,
        output_device=settings.output_device,
        block_ms=settings.block_ms,
        full_duplex=settings.full_duplex,
        input_wav=settings.input_wav,
        output_wav=settings.output_wav,
        wav_speed=settings.wav_speed,
        record=settings.record,
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
