"""voicelive-tui on Windows and macOS, simulated on Linux (see ``simulate.py`` for how,
and for what a simulation cannot show).

Real processes on loopback: the emulator's command and the console client, both under
the simulated standard library, one spoken turn from a WAV file, real log files; then
Ctrl+C and closing the console in the middle of a reply on simulated Windows.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

if sys.platform != "linux":
    pytest.skip("simulates Windows and macOS on a Linux host", allow_module_level=True)

from tests.helpers import child_env, wav_turn_args  # noqa: E402
from tests.integration.session_helpers import TEST_KEY  # noqa: E402
from tests.platforms.simulate import CLOSED_STATUS  # noqa: E402
from tests.reliability.harness import (  # noqa: E402
    Console,
    client_args,
    read_logs,
    received_types,
    reply_in_progress,
)

SIMULATE = Path(__file__).with_name("simulate.py")
TARGETS = ("win32", "darwin")
EXIT_TIMEOUT_S = 30.0
"""A quit is waited for, not timed: a loaded machine's exit takes what it takes."""


async def simulated(target: str, module: str, *argv: str) -> Console:
    """``python -m MODULE ARGV`` under the simulated ``target``, output collected."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SIMULATE),
        target,
        module,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    return Console(proc)


@asynccontextmanager
async def simulated_emulator(target: str, speed: float) -> AsyncIterator[str]:
    """``voicelive-emulator --port 0`` under the simulation; its endpoint. Stopped with
    Ctrl+C (SIGINT) at the end, which must end it cleanly with status 0."""
    emu = await simulated(target, "voicelive_tui.emulator", "--port", "0", "--speed", str(speed))
    try:
        await emu.wait_output("listening on http://", timeout=30)
        match = re.search(r"listening on (http://\S+)", emu.out)
        assert match, emu.out
        yield match.group(1)
        emu.signal(signal.SIGINT)
        assert await emu.wait(EXIT_TIMEOUT_S) == 0, emu.err
        assert "Traceback" not in emu.err
    finally:
        await emu.kill()


@pytest.mark.parametrize("target", TARGETS)
async def test_every_module_imports(target: str) -> None:
    probe = await simulated(target, "tests.platforms.import_all", target)
    code = await probe.wait(120)
    assert code == 0, probe.err
    assert re.search(r"imported \d{2,} modules", probe.out), probe.out


# Slow: two simulated processes each; the fast run keeps the imports and the quit path's unit
# test.
@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
async def test_console_conversation_and_logs(
    target: str, short_speech_wav: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    async with simulated_emulator(target, speed=20) as endpoint:
        args = wav_turn_args(endpoint, TEST_KEY, short_speech_wav, tmp_path)
        console = await simulated(target, "voicelive_tui", *args, "--summary-json", str(summary))
        code = await console.wait(90)
    assert code == 0, console.err
    assert "Traceback" not in console.err
    assert "Goodbye" in console.out
    logs = read_logs(tmp_path / "logs")
    assert set(logs) == {"voicelive.log", "conversation.log", "events.jsonl"}
    conversation = logs["conversation.log"]
    said = re.search(r"User Input:\t(.+)\n", conversation)
    assert said and not said.group(1).startswith("[speech")  # the words the emulator heard
    assert f'Agent Audio Response:\tI heard: "{said.group(1)}"' in conversation
    assert "response.done" in received_types(tmp_path / "logs")
    rtt = json.loads(summary.read_text())["rtt_ms"]
    if target == "darwin":  # tcpi_srtt of TCP_CONNECTION_INFO, whole ms on loopback
        assert rtt is not None and 1 <= rtt < 100 and rtt == int(rtt), rtt
    else:  # Windows: no kernel figure is read, so none is shown ("n/a")
        assert rtt is None
    if target == "win32":
        # The logs folder is outside the profile folder (HOME): one line says so.
        notes = [line for line in console.err.splitlines() if "note:" in line]
        assert len(notes) == 1 and "outside your profile folder" in notes[0], console.err
        assert "Log files: on Windows" in logs["voicelive.log"]
    else:
        assert console.err == ""


# Slow: two simulated processes each; the fast run keeps the imports and the quit path's unit
# test.
@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "close-console"])
async def test_windows_quit_keeps_the_reply_in_progress(how: str, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    # The greeting streams in real time, so it is still in progress when the user quits.
    async with simulated_emulator("win32", speed=1) as endpoint:
        args = client_args(endpoint, log_dir, "--no-tui", "--output-wav", str(tmp_path / "a.wav"))
        console = await simulated("win32", "voicelive_tui", *args)
        try:
            await reply_in_progress(log_dir, timeout=30)
            console.signal(signal.SIGINT if how == "ctrl-c" else signal.SIGUSR2)
            code = await console.wait(EXIT_TIMEOUT_S)
        finally:
            await console.kill()
    assert "Traceback" not in console.err
    if how == "ctrl-c":
        assert code == 0, console.err
        assert "Goodbye" in console.out
    else:  # Windows ends the process once the handler returns; the logs were written first
        assert code in (0, CLOSED_STATUS), console.err
    conversation = read_logs(log_dir)["conversation.log"]
    replies = [line for line in conversation.splitlines() if line.startswith("Agent ")]
    assert len(replies) == 1, conversation
    assert replies[0].endswith(" [interrupted: quit]"), conversation


@pytest.mark.parametrize("target", TARGETS)
async def test_pulseaudio_forwarding_is_linux_only(target: str, tmp_path: Path) -> None:
    saver = await simulated(target, "voicelive_tui", "--save-pulse-cookie")
    code = await saver.wait(30)
    name = {"win32": "Windows", "darwin": "macOS"}[target]
    assert code == 2
    assert saver.err.strip().splitlines() == [
        "voicelive-tui: error: --save-pulse-cookie (PulseAudio forwarding over SSH): "
        f"Linux only (not available on {name})"
    ]
