"""voicelive-tui --no-tui as a user runs it: the seed's console lines, log files, an output
WAV (a real process, in real time), and exit statuses 0 / 3 / 4 (in this process: the same
start and exit paths, without a second Python's start-up)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.helpers import rms_dbfs, run_cli, run_console_here
from tests.integration.session_helpers import TEST_KEY


async def test_spoken_turn_in_console_mode(
    emulator_factory, short_speech_wav: Path, tmp_path
) -> None:
    # The one console run from a WAV file in real time (the others use --wav-speed).
    emu = await emulator_factory(speed=1.0)
    out_wav, logs = tmp_path / "agent.wav", tmp_path / "logs"
    code, out, err = await run_cli(
        "--no-tui",
        "--endpoint",
        emu.endpoint,
        "--api-key",
        TEST_KEY,
        "--input-wav",
        str(short_speech_wav),
        "--output-wav",
        str(out_wav),
        "--exit-after-turns",
        "1",
        "--no-greeting",
        "--log-dir",
        str(logs),
    )
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    expected = [
        "🎤 VOICE ASSISTANT READY",
        "🎤 Listening...",
        "🤔 Processing...",
        "👤 You said:\t",
        "🤖 Agent responded with audio transcript:\t",
        "👋 Voice assistant shut down. Goodbye!",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(e)) for e in expected]
    assert positions == sorted(positions), out
    conversation = next(logs.glob("*_conversation.log")).read_text(encoding="utf-8")
    said = next(line for line in lines if line.startswith("👤 You said:\t")).split("\t", 1)[1]
    assert said.strip() and not said.startswith("[speech")  # the words the emulator heard
    assert f"User Input:\t{said}" in conversation
    assert f'Agent Audio Response:\tI heard: "{said}"' in conversation
    assert conversation.index("User Input:") < conversation.index("Agent Audio Response:")
    assert rms_dbfs(out_wav) > -40.0  # the agent's voice, not silence
    assert TEST_KEY not in "".join(p.read_text(encoding="utf-8") for p in logs.iterdir())


async def test_wrong_key_exits_3_with_one_line(emulator_factory, tmp_path) -> None:
    emu = await emulator_factory(api_key="the-right-key")
    code, out, err = await run_console_here(
        "--no-audio",
        "--endpoint",
        emu.endpoint,
        "--api-key",
        "a-wrong-key",
        "--log-dir",
        str(tmp_path),
    )
    assert code == 3
    assert len(err.strip().splitlines()) == 1, err
    assert "authentication failed (HTTP 401)" in err and "check the API key" in err
    assert "a-wrong-key" not in err + out
    assert "Traceback" not in err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_closed_port_exits_4_with_one_line(tmp_path) -> None:
    port = closed_port()
    code, out, err = await run_console_here(
        "--no-audio",
        "--endpoint",
        f"http://127.0.0.1:{port}",
        "--api-key",
        "k" * 8,
        "--retry-max",
        "0.2",  # the back-off between attempts (0.5 s, then 1 s by default)
        "--log-dir",
        str(tmp_path),
    )
    assert code == 4
    assert len(err.strip().splitlines()) == 1, err
    assert f"could not connect to http://127.0.0.1:{port} after 3 attempts" in err
    assert "Traceback" not in err
