"""A terminal that stops reading (a stalled SSH link) does not stall the voice session
(issue 11): the event log keeps growing and the reply keeps playing while nothing is
read, and the screen catches up with one full repaint when reading resumes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.helpers import wait_until as wait_for
from tests.reliability.harness import Terminal, client_args
from voicelive_tui.emulator import Emulator

STALL_S = 3.5
"""Long enough to fill the pty's buffer many times over at the dashboard's output rate, and
over three times the second after which the driver takes a blocked write for a stalled
terminal."""


def size_of(pattern: str, where: Path) -> int:
    return sum(p.stat().st_size for p in where.glob(pattern))


# Slow step: real time by nature (a 3.5 s stall, ~6.5 s in all); its SSH sibling is slow too.
@pytest.mark.slow
async def test_the_session_runs_on_while_the_terminal_is_not_read(
    emulator_factory: Callable[..., Awaitable[Emulator]], tmp_path: Path
) -> None:
    emu = await emulator_factory(speed=1.0, faults=["long-reply=30"])
    log_dir = tmp_path / "logs"
    wav = tmp_path / "reply.wav"
    term = await Terminal.start(
        *client_args(emu.endpoint, log_dir, "--output-wav", str(wav)), size=(160, 48)
    )
    try:
        await wait_for(lambda: wav.exists() and wav.stat().st_size > 48_000, 20.0, "the reply")
        term.pause_reading()
        # Wait until the terminal really is full: the app's output no longer moves.
        await asyncio.sleep(1.0)
        events_before, audio_before = size_of("*_events.jsonl", log_dir), wav.stat().st_size
        stalled_at = time.monotonic()
        await asyncio.sleep(STALL_S)
        events_grew = size_of("*_events.jsonl", log_dir) - events_before
        audio_grew = wav.stat().st_size - audio_before
        stalled_for = time.monotonic() - stalled_at
        written_before = len(term.output)
        term.resume_reading()
        # The screen catches up: a full repaint draws the static key bar again, which a
        # partial update never touches.
        await wait_for(lambda: b"Interrupt" in term.output[written_before:], 10.0, "a full repaint")
        term.send("q")
        assert await term.wait(10.0) == 0
    finally:
        term.kill()
    # 24 kHz 16-bit mono: 48,000 bytes a second of reply played while nothing was read.
    played_s = audio_grew / 48_000
    assert played_s > 0.8 * stalled_for, (played_s, stalled_for)
    assert events_grew > 0, "no server event was logged while the terminal was stalled"
    assert term.restored()
    assert os.path.getsize(wav) > audio_before
