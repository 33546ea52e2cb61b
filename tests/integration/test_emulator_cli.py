"""The ``voicelive-emulator`` command: first line, clean stop on signals, help, bad arguments."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys

import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.credentials import AzureKeyCredential

from voicelive_tui.emulator import FAULT_HELP

COMMAND = [sys.executable, "-m", "voicelive_tui.emulator"]
FIRST_LINE = re.compile(r"^Voice Live emulator listening on http://127\.0\.0\.1:(\d+)$")


class _Endpoint:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_first_line_then_serves_then_stops_cleanly(voicelive_client, sig):
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--speed",
        "50",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().rstrip("\n")
        match = FIRST_LINE.match(line)
        assert match, line
        assert int(match.group(1)) > 0
        emu = _Endpoint(f"http://127.0.0.1:{match.group(1)}")
        async with voicelive_client(emu, credential=AzureKeyCredential("cli-key")) as probe:
            await probe.wait_for("session.created")
            await probe.conn.response.create()
            await probe.wait_for("response.done")
        with pytest.raises(VoiceLiveConnectionError, match="401"):
            async with voicelive_client(emu, credential=AzureKeyCredential("wrong")):
                pass
        proc.send_signal(sig)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert b"Traceback" not in stderr
    assert b"cli-key" not in stdout + stderr


def test_help_documents_every_option_and_fault():
    result = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for option in ("--host", "--port", "--api-key", "--token", "--speed", "--fault"):
        assert option in result.stdout
    for name in FAULT_HELP:
        assert f"  {name}" in result.stdout
    assert "Bearer" in result.stdout
    assert "/voice-live/realtime" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "x"],
        ["--port", "70000"],
        ["--speed", "0"],
        ["--fault", "nope"],
        ["--fault", "delay-ms"],
        ["--bogus"],
    ],
    ids=["port-text", "port-range", "speed-zero", "fault-unknown", "fault-no-value", "unknown"],
)
def test_bad_arguments_give_one_line_and_exit_2(args):
    result = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("voicelive-emulator: error:")
    assert result.stdout == ""


def test_port_in_use_is_one_line_and_exit_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
