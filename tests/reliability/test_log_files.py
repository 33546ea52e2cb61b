"""Log files that cannot collide, follow links or leak (issue 10, defects 2, 3, 15)."""

from __future__ import annotations

import asyncio
import signal
import stat
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers import RecordingListener, run_console_here, wait_until
from tests.reliability.harness import Console, client_args
from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.logs import STAMP_FORMAT

RUN_FILES = ("voicelive.log", "conversation.log", "events.jsonl")
AHEAD_S = 5
"""The next seconds' names are taken in advance: a run starting now lands on one of them."""


def next_stamps() -> list[str]:
    now = datetime.now()
    return [(now + timedelta(seconds=s)).strftime(STAMP_FORMAT) for s in range(AHEAD_S + 1)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


async def until_logged_then_quit(
    console: Console, log_dir: Path, runs: int, line: str = "Agent Audio Response:"
) -> int:
    """Wait until ``runs`` conversation logs hold ``line`` (the greeting), then Ctrl+C."""

    def logged() -> bool:
        logs = list(log_dir.glob("*_conversation.log"))
        return len([p for p in logs if line in p.read_text()]) >= runs

    await wait_until(logged, 15.0, f"{runs} conversation logs with {line!r}")
    console.signal(signal.SIGINT)
    return await console.wait(5.0)


async def test_runs_in_the_same_second_never_share_a_file(emulator, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    # Another run already owns this second's and the next seconds' names.
    for stamp in next_stamps():
        for name in RUN_FILES:
            (log_dir / f"{stamp}_{name}").write_text(f"other run {name}\n")
    # Audio replies, each to its own WAV (--no-audio asks for text only), played fast.
    first, second = await asyncio.gather(
        *(
            Console.start(
                *client_args(emulator.endpoint, log_dir, "--output-wav", str(tmp_path / wav)),
                "--wav-speed",
                "10",
            )
            for wav in ("first.wav", "second.wav")
        )
    )
    try:
        codes = await asyncio.gather(
            until_logged_then_quit(first, log_dir, 2), until_logged_then_quit(second, log_dir, 2)
        )
    finally:
        await asyncio.gather(first.kill(), second.kill())
    assert codes == [0, 0], (first.err, second.err)
    for path in log_dir.iterdir():
        if path.read_text().startswith("other run"):
            assert path.read_text() == f"other run {path.name.split('_', 2)[2]}\n", path.name
    ours = [p for p in log_dir.iterdir() if not p.read_text().startswith("other run")]
    conversations = [p for p in ours if p.name.endswith("_conversation.log")]
    technical = [p for p in ours if p.name.endswith("_voicelive.log")]
    assert len(conversations) == 2 and len(technical) == 2, sorted(p.name for p in ours)
    for path in conversations:
        text = path.read_text()
        assert text.count("SessionID: ") == 1, text  # not interleaved with the other run
        assert text.count("Agent Audio Response:") == 1, text
    for path in technical:
        assert "Session closed" in path.read_text()


async def test_a_symlink_at_the_next_name_is_never_followed(
    emulator_factory, tmp_path: Path
) -> None:
    emu = await emulator_factory(faults=["reject-auth"])  # a short run that logs why
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    target.chmod(0o644)
    for stamp in next_stamps():
        for name in RUN_FILES:
            (log_dir / f"{stamp}_{name}").symlink_to(target)
    code, _out, err = await run_console_here(*client_args(emu.endpoint, log_dir, "--no-audio"))
    assert code == 3, err
    assert target.read_text() == "keep me\n"
    assert mode(target) == 0o644
    created = [p for p in log_dir.iterdir() if not p.is_symlink()]
    assert [p.name.split("_", 2)[2] for p in created] == ["voicelive.log"], created
    assert mode(created[0]) == 0o600
    assert "authentication failed" in created[0].read_text()


async def test_folder_0700_wavs_0600_and_the_voice_header_is_a_name(
    emulator, tmp_path: Path
) -> None:
    log_dir = tmp_path / "fresh" / "logs"
    record, out_wav = tmp_path / "session.wav", tmp_path / "agent.wav"
    console = await Console.start(
        *client_args(emulator.endpoint, log_dir),
        "--record",
        str(record),
        "--output-wav",
        str(out_wav),
    )
    try:
        code = await until_logged_then_quit(console, log_dir, 1, "Voice: ")
    finally:
        await console.kill()
    assert code == 0, console.err
    assert mode(log_dir) == 0o700
    assert all(mode(p) == 0o600 for p in log_dir.iterdir())
    assert mode(record) == 0o600 and mode(out_wav) == 0o600
    conversation = next(log_dir.glob("*_conversation.log")).read_text()
    assert "Voice: en-US-Ava:DragonHDLatestNeural\n" in conversation, conversation


async def test_output_wav_of_the_wav_backend_is_private(tmp_path: Path) -> None:
    backend = WavBackend(None, tmp_path / "out.wav")
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    await backend.stop()
    assert mode(tmp_path / "out.wav") == 0o600


async def test_auth_rejected_leaves_no_empty_log_files(emulator_factory, tmp_path: Path) -> None:
    emu = await emulator_factory(faults=["reject-auth"])
    log_dir = tmp_path / "logs"
    code, out, err = await run_console_here(*client_args(emu.endpoint, log_dir, "--no-audio"))
    assert code == 3
    assert err.count("\n") == 1 and "authentication failed (HTTP 401)" in err, err
    assert "Traceback" not in out + err
    files = list(log_dir.iterdir())
    assert [p.name.split("_", 2)[2] for p in files] == ["voicelive.log"], files
    assert all(p.stat().st_size > 0 for p in files)
