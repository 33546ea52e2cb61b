"""The ``voicelive-emulator`` command: first line and clean stop on signals (a real
process); help and bad arguments (in-process, through its ``main``)."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys

import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.credentials import AzureKeyCredential

from tests.helpers import child_env
from voicelive_tui.emulator import FAULT_HELP
from voicelive_tui.emulator.cli import main

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
        env=child_env(),
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


def test_help_documents_every_option_and_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--api-key", "--token", "--speed", "--fault"):
        assert option in out
    for name in FAULT_HELP:
        assert f"  {name}" in out
    assert "Bearer" in out
    assert "/voice-live/realtime" in out


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
def test_bad_arguments_give_one_line_and_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("voicelive-emulator: error:")
    assert captured.out == ""


def test_port_in_use_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
