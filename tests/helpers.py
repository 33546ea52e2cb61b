"""What many tests share: waiting on a condition, an audio listener that records what it
is told, tones and WAV files, and the ``voicelive-tui`` command run as a user runs it.

Every child process gets :func:`child_env`: no ``AZURE_*`` / ``AGENT_*`` variable from the
developer's shell, and this checkout importable whatever its working directory (tests run
in a temporary directory, so a ``.env`` in the repository root is never read).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import wave
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from voicelive_tui.audio.base import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "voicelive_tui")
"""The ``voicelive-tui`` command, as this test run's Python runs it."""
HOST_PREFIXES = ("AZURE_", "AGENT_")
"""Variables the app (or azure-identity) reads: never inherited from the developer."""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: this one's without ``AZURE_*`` / ``AGENT_*``,
    with this checkout first on ``PYTHONPATH``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(HOST_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


# -- waiting ----------------------------------------------------------------------------------


async def wait_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: str = "",
    *,
    poll: float = 0.02,
    pause: Callable[[float], Awaitable[object]] | None = None,
) -> None:
    """Re-check ``predicate`` every ``poll`` seconds until it holds; fail the test after
    ``timeout``. ``pause`` replaces ``asyncio.sleep`` (a Textual pilot's ``pause`` lets
    the app process its messages between checks)."""
    sleep = pause or asyncio.sleep
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate}")
        await sleep(poll)


# -- audio --------------------------------------------------------------------------------------


class RecordingListener:
    """An audio backend's listener that records what the backend told it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.faults: list[str] = []
        self.restored: list[str] = []
        self.changes: list[tuple[str, bool]] = []

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        self.started.append(item_id)

    def on_audio_fault(self, message: str) -> None:
        self.faults.append(message)

    def on_audio_restored(self, message: str) -> None:
        self.restored.append(message)

    def on_device_changed(self, message: str, *, switched: bool) -> None:
        self.changes.append((message, switched))


def tone(
    freq: float,
    seconds: float,
    rate: int = SAMPLE_RATE,
    *,
    amplitude: float = 12000,
    phase: float = 0.0,
) -> np.ndarray:
    """A sine of ``freq`` Hz as int16 samples (``phase`` > 0: no sample is exactly zero)."""
    t = np.arange(round(seconds * rate)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def write_wav(
    path: Path, samples: np.ndarray | bytes, rate: int = SAMPLE_RATE, channels: int = 1
) -> Path:
    """A 16-bit PCM WAV of ``samples`` (int16, interleaved when ``channels`` > 1)."""
    data = samples if isinstance(samples, bytes) else samples.astype(np.int16).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def silence_wav(path: Path, seconds: float, rate: int = SAMPLE_RATE) -> Path:
    """A WAV of digital silence."""
    return write_wav(path, np.zeros(round(seconds * rate), np.int16), rate)


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """(int16 samples, rate, channels) of a 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        return data, w.getframerate(), w.getnchannels()


def rms_dbfs(path: Path) -> float:
    """The RMS level of a 16-bit WAV in dBFS (-120 for digital silence)."""
    x = read_wav(path)[0].astype(np.float64) / 32768
    return float(10 * np.log10(np.mean(x**2) + 1e-12))


# -- the command --------------------------------------------------------------------------------


async def run_cli(
    *argv: str,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, str, str]:
    """Run ``voicelive-tui ARGV`` to its end without blocking this loop (an emulator may
    live on it): (exit status, stdout, stderr). Killed, and the test failed, after
    ``timeout`` seconds."""
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(env),
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(
            f"voicelive-tui {' '.join(argv)} still running after {timeout} s"
        ) from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_console_here(
    *argv: str, timeout: float = 60.0, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """``voicelive-tui --no-tui ARGV`` in this process, on this loop (beside the test's
    emulator), for tests where the process boundary is not what is tested: the same start
    and exit statuses (``cli.console_main``), and (exit status, stdout, stderr) as
    :func:`run_cli` returns them, without a second Python's start-up."""
    from voicelive_tui.cli import console_main

    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = await asyncio.wait_for(console_main(["--no-tui", *argv]), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"voicelive-tui --no-tui {' '.join(argv)} still running after {timeout} s"
        ) from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue().decode(), err.getvalue().decode()


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop our own child (TERM, then KILL if it lingers) and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class LogLines:
    """A stand-in for the conversation log file: the lines written, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def header(self, *fields: Any) -> None:
        self.lines.append("header")


GLITCH_MODULE = "glitch_benchmark"


def glitch_benchmark() -> ModuleType:
    """``benchmarks/glitch.py`` (not a package) loaded once: its gap analysis."""
    if GLITCH_MODULE in sys.modules:
        return sys.modules[GLITCH_MODULE]
    spec = importlib.util.spec_from_file_location(GLITCH_MODULE, REPO / "benchmarks" / "glitch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[GLITCH_MODULE] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def wav_turn_args(endpoint: str, key: str, speech: Path, where: Path) -> list[str]:
    """Console mode against ``endpoint``: one spoken turn from ``speech`` at ten times real
    speed, the reply into a WAV file, logs under ``where``; the run ends after the answer."""
    return [
        "--no-tui", "--endpoint", endpoint, "--api-key", key,
        "--input-wav", str(speech), "--output-wav", str(where / "agent.wav"),
        "--wav-speed", "10", "--exit-after-turns", "1", "--no-greeting",
        "--log-dir", str(where / "logs"),
    ]  # fmt: skip


def mcp_tools_file(where: Path) -> Path:
    """An MCP server that always asks for approval; "required" without function tools
    makes every turn call its first tool (the emulator's rule)."""
    server = {
        "type": "mcp",
        "server_label": "deepwiki",
        "server_url": "https://mcp.deepwiki.com/mcp",
        "allowed_tools": ["ask_question"],
        "require_approval": "always",
    }
    tools = where / "tools.json"
    tools.write_text(json.dumps({"tools": [server], "tool_choice": "required"}))
    return tools
