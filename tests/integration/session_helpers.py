"""Helpers to run the real VoiceLiveSession against the in-process emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from azure.core.credentials import AzureKeyCredential

from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.audio.base import AudioBackend
from voicelive_tui.config import Settings, build_parser, settings_from_args
from voicelive_tui.logs import RunLogs
from voicelive_tui.session.session import VoiceLiveSession
from voicelive_tui.updates import Notice, Update

TEST_KEY = "test-key-0123456789"


def make_settings(*argv: str) -> Settings:
    """Settings exactly as the CLI would build them from ``argv`` (no environment)."""
    return settings_from_args(build_parser().parse_args(list(argv)), {})


@dataclass
class RunningSession:
    session: VoiceLiveSession
    logs: RunLogs
    updates: list[Update] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def observe(self, update: Update) -> None:
        self.updates.append(update)
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], object], timeout: float = 15.0) -> None:
        """Re-check ``predicate`` on every session update (and every 50 ms for audio-side
        state that changes without one) until it holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                conv = self.session.conversation
                raise AssertionError(
                    f"condition not met within {timeout}s; state={conv.connection}, "
                    f"turns={[(t.role, t.text[:40]) for t in conv.turns]}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(0.05, remaining))
            except asyncio.TimeoutError:
                pass

    def notices(self) -> list[str]:
        return [u.text for u in self.updates if isinstance(u, Notice)]

    def conversation_log(self) -> str:
        return self.logs.conversation_path.read_text(encoding="utf-8")


@asynccontextmanager
async def running_session(
    endpoint: str,
    log_dir: Path,
    *argv: str,
    audio: AudioBackend | None = None,
    key: str = TEST_KEY,
) -> AsyncIterator[RunningSession]:
    """A VoiceLiveSession connected to ``endpoint`` with key auth, run as a task."""
    settings = make_settings(
        "--endpoint", endpoint, "--api-key", key, "--log-dir", str(log_dir), *argv
    )
    logs = RunLogs(settings.log_dir, verbose=settings.verbose, secrets=(key,))
    session = VoiceLiveSession(
        settings,
        endpoint=endpoint,
        credential=AzureKeyCredential(key),
        audio=audio or NullBackend(),
        logs=logs,
    )
    running = RunningSession(session, logs)
    session.subscribe(running.observe)
    task = asyncio.create_task(session.run())
    running.task = task  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        session.quit()
        try:
            await asyncio.wait_for(task, 10)
        finally:
            logs.close()
