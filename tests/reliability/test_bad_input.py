"""Bad input is one clear line on stderr and exit 2, never a traceback; odd terminals and
odd characters work (issue 10, defects 7 to 11 and 14)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from tests.helpers import CLI, child_env, wait_until
from tests.reliability.harness import (
    Console,
    Terminal,
    client_args,
    read_logs,
    run_console,
)
from voicelive_tui import cli
from voicelive_tui.emulator import Emulator

EXIT_CONFIG = 2


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``voicelive-tui --no-tui ARGV`` through its ``main``, for input it must refuse
    before connecting: (exit status, stdout, stderr)."""
    code = cli.main(["--no-tui", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, out: str, err: str, *needles: str) -> None:
    assert code == EXIT_CONFIG, (code, err)
    assert err.count("\n") == 1 and err.startswith("voicelive-tui: error: "), err
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, err


def wav_extensible(path: Path, bits: int) -> Path:
    """A WAVE_FORMAT_EXTENSIBLE file (what sox and many editors write for 24/32 bit)."""
    n, rate, width = 2400, 24000, bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, rate, rate * width, width, bits)
    fmt += struct.pack("<HHI", 22, bits, 4) + b"\x01\x00\x00\x00\x00\x00\x10\x00"
    fmt += b"\x80\x00\x00\xaa\x00\x38\x9b\x71"
    data = bytes(n * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", "not a WAV file"),
        ("empty", "the file is empty"),
        ("ext24", "WAVE_FORMAT_EXTENSIBLE"),
        ("ext32", "WAVE_FORMAT_EXTENSIBLE"),
        ("missing", "file not found"),
    ],
)
def test_unreadable_input_wav_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, reason: str
) -> None:
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("this is not audio\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind.startswith("ext"):
        wav_extensible(path, int(kind[3:]))
    code, out, err = run_in_process(
        capsys, "--input-wav", str(path), "--exit-after-turns", "1", "--log-dir", str(tmp_path)
    )
    assert_one_line(code, out, err, "--input-wav", reason)


async def test_a_usage_error_of_the_command_is_one_line(tmp_path: Path) -> None:
    code, out, err = await run_console("--input-wav", str(tmp_path / "missing.wav"))
    assert_one_line(code, out, err, "--input-wav", "file not found")


@pytest.mark.parametrize("variable", ["AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY"])
def test_an_unclosed_quote_in_the_env_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    env_file = tmp_path / "settings.env"
    secret = "sup3r-secret-value-0123"
    env_file.write_text(
        f'AZURE_VOICELIVE_ENDPOINT=http://127.0.0.1:9\n{variable}="{secret}\nOTHER=1\n'
    )
    code, out, err = run_in_process(capsys, "--env-file", str(env_file), "--log-dir", str(tmp_path))
    assert_one_line(code, out, err, "settings.env", f"line 2: cannot parse the value of {variable}")
    assert secret not in err
    assert "python-dotenv" not in err


def test_log_dir_that_is_a_file_or_under_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for log_dir, reason in ((a_file, "File exists"), (a_file / "logs", "Not a directory")):
        code, out, err = run_in_process(capsys, "--log-dir", str(log_dir))
        assert_one_line(code, out, err, f"cannot write logs in {log_dir}: {reason}")


UNSHARE = shutil.which("unshare")


def read_only_run(*argv: str, cwd: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a read-only file system mounted on ``cwd`` (a private mount)."""
    script = f'mount -t tmpfs -o ro tmpfs "{cwd}" && cd "{cwd}" && exec "$@"'
    return subprocess.run(
        [UNSHARE or "unshare", "-m", "sh", "-c", script, "sh", *CLI, "--no-tui", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
    )


@pytest.mark.skipif(
    UNSHARE is None or os.geteuid() != 0, reason="needs unshare -m (root) for a read-only mount"
)
async def test_unwritable_log_dir_and_working_directory(tmp_path: Path) -> None:
    cwd = tmp_path / "ro"
    cwd.mkdir()
    for argv, shown in ((), "logs"), (("--log-dir", str(cwd / "mine")), str(cwd / "mine")):
        done = await asyncio.to_thread(read_only_run, *argv, cwd=str(cwd))
        if "mount:" in done.stderr:
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        assert_one_line(done.returncode, done.stdout, done.stderr, f"cannot write logs in {shown}")
        assert "Read-only file system" in done.stderr


async def test_console_mode_on_an_ascii_stdout(emulator: Emulator, tmp_path: Path) -> None:
    console = await Console.start(
        *client_args(emulator.endpoint, tmp_path, "--no-audio"),
        env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"},
    )
    try:
        await console.wait_output("VOICE ASSISTANT READY")
        console.signal(signal.SIGINT)
        code = await console.wait(5)
    finally:
        await console.kill()
    assert code == 0, console.err
    assert "Traceback" not in console.err
    assert "?  Basic Voice Assistant" in console.out  # the emoji replaced, the line kept


async def test_dashboard_with_no_color(tmp_path: Path) -> None:
    term = await Terminal.start(
        "--demo", "--no-audio", "--log-dir", str(tmp_path), env={"NO_COLOR": "1"}
    )
    try:
        await term.wait_output("session.updated")  # the event log has rendered events
        term.send("q")
        code = await term.wait(5)
    finally:
        term.kill()
    assert code == 0, term.text[-3000:]
    assert "Traceback" not in term.text
    assert term.restored()


async def test_zero_width_joiners_typed_into_the_message_box_are_kept(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Persian "mi-khaham" needs U+200C; the family emoji is joined with U+200D.
    message = "می‌خواهم 👨‍👩"
    term = await Terminal.start(
        *client_args(emulator.endpoint, tmp_path, "--no-audio", "--no-greeting")
    )
    try:
        await term.wait_output("session.updated")
        term.send("t")
        await term.wait_output("message to the agent")
        term.send(message)  # as a terminal delivers typed text: UTF-8 bytes
        term.send("\r")
        await wait_until(
            lambda: "User Input:" in read_logs(tmp_path).get("conversation.log", ""),
            10.0,
            "the typed message in the conversation log",
        )
        term.send("\x03")  # Ctrl+C quits wherever the focus is
        assert await term.wait(5) == 0
    finally:
        term.kill()
    assert f"User Input:\t{message}\n" in read_logs(tmp_path)["conversation.log"]
