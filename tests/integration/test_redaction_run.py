"""After a DEBUG run against the emulator, no log file holds the key or a token.

Two runs: console mode with an API key in a subprocess (the real command line), and the
legacy agent mode in-process with a token credential double, whose tokens travel as a
Bearer header and as the ``agent-access-token`` query parameter the SDK logs at DEBUG.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from tests.helpers import run_console_here
from voicelive_tui.config import build_parser, settings_from_args
from voicelive_tui.console import TurnLimit
from voicelive_tui.emulator import Emulator
from voicelive_tui.runner import build_audio, make_session, open_logs, open_target

RUN_TIMEOUT_S = 60.0


def log_files(log_dir: Path) -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in log_dir.iterdir() if p.is_file()}
    suffixes = sorted(name.split("_", 2)[2] for name in files)
    assert suffixes == ["conversation.log", "events.jsonl", "voicelive.log"], sorted(files)
    for name, text in files.items():
        assert text.strip(), f"{name} is empty"
    return files


def technical_log(files: dict[str, str]) -> str:
    return next(text for name, text in files.items() if name.endswith("_voicelive.log"))


def assert_no_secret(files: dict[str, str], secrets_: list[str]) -> None:
    for name, text in files.items():
        for secret in secrets_:
            assert secret not in text, f"{name} contains a secret ({secret[:6]}...)"


async def test_console_run_with_api_key_leaves_no_key_in_the_logs(
    emulator_factory: Callable[..., Awaitable[Emulator]],
    short_speech_wav: Path,
    tmp_path: Path,
) -> None:
    api_key = "key-" + secrets.token_hex(16)
    emu = await emulator_factory(api_key=api_key)
    log_dir = tmp_path / "logs"
    code, stdout, stderr = await run_console_here(
        "--verbose",
        "--endpoint",
        emu.endpoint,
        "--api-key",
        api_key,
        "--input-wav",
        str(short_speech_wav),
        "--wav-speed",
        "10",
        "--exit-after-turns",
        "1",
        "--log-dir",
        str(log_dir),
        timeout=RUN_TIMEOUT_S,
    )
    assert code == 0, stderr[-2000:]
    assert "You said:" in stdout
    assert emu.latest is not None and emu.latest.auth_kind == "api-key"
    assert api_key not in stdout + stderr
    files = log_files(log_dir)
    assert ":DEBUG:" in technical_log(files)
    assert_no_secret(files, [api_key])


class MintingTokenCredential:
    """An AsyncTokenCredential double: every get_token mints a new Entra-shaped token."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.scopes: list[tuple[str, ...]] = []
        self._serial = itertools.count(1)

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        token = f"eyJ0eXAiOiJKV1Qi{next(self._serial)}.{secrets.token_urlsafe(24)}.sig"
        self.issued.append(token)
        return AccessToken(token, 4102444800)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> MintingTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


async def test_legacy_agent_run_leaves_no_token_in_the_logs(
    emulator_factory: Callable[..., Awaitable[Emulator]],
    short_speech_wav: Path,
    tmp_path: Path,
) -> None:
    emu = await emulator_factory()
    log_dir = tmp_path / "logs"
    args = build_parser().parse_args(
        [
            "--endpoint",
            emu.endpoint,
            "--agent-id",
            "asst_redaction",
            "--project-name",
            "proj",
            "--verbose",
            "--no-tui",
            "--input-wav",
            str(short_speech_wav),
            "--wav-speed",
            "10",
            "--exit-after-turns",
            "1",
            "--log-dir",
            str(log_dir),
        ]
    )
    settings = settings_from_args(args, {})
    credential = MintingTokenCredential()
    logs = open_logs(settings)
    try:
        async with open_target(settings, token_credential=credential) as target:
            session = make_session(settings, target, logs, build_audio(settings))
            session.subscribe(TurnLimit(session, 1))
            await asyncio.wait_for(session.run(), RUN_TIMEOUT_S)
    finally:
        logs.close()
    record = emu.latest
    assert record is not None
    assert (record.agent_mode, record.auth_kind) == ("legacy", "bearer")
    assert record.query["agent-id"] == "asst_redaction"
    # One ai.azure.com token serves as the agent access token and the Bearer token
    # (tokens are cached per scope until shortly before they expire).
    assert len(credential.issued) >= 1
    assert session.conversation.answered_user_turns == 1
    files = log_files(log_dir)
    tech = technical_log(files)
    assert ":DEBUG:" in tech
    # The SDK logs the URL it dials at DEBUG: it is there, with the token removed.
    assert "agent-access-token=***" in tech
    assert_no_secret(files, credential.issued)
