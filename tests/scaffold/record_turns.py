"""Record the session behind the timeline's snapshots (tests/ui/data/turns_events.jsonl).

A real dashboard against the in-process emulator (real-time pacing): a spoken turn ended by
server VAD's silence window, a typed question whose reply is interrupted (a truncation), a
typed follow-up. Run from the checkout: ``python -m tests.scaffold.record_turns OUT_DIR``;
the events log it writes is the fixture. Needs espeak-ng and sox.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.config import Settings
from voicelive_tui.emulator import run_emulator
from voicelive_tui.sources import endpoint_source
from voicelive_tui.ui.app import VoiceLiveApp


def speech(folder: Path) -> Path:
    raw, out = folder / "raw.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "What can you do?"], check=True)
    subprocess.run(["sox", str(raw), "-r", "24000", "-c", "1", "-b", "16", str(out)], check=True)
    with wave.open(str(out)) as w:
        pcm = w.readframes(w.getnframes())
    padded = folder / "mic.wav"
    with wave.open(str(padded), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(bytes(48000 * 2) + pcm + bytes(48000))
    return padded


async def until(pilot, condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await pilot.pause(0.05)


async def record(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        mic = speech(Path(scratch))
        async with run_emulator(port=0, speed=1.0, pacing="realtime") as emu:
            settings = Settings(
                endpoint=emu.endpoint, api_key="test-key", log_dir=out_dir, block_ms=100,
                greeting=False,
            )  # fmt: skip
            audio = WavBackend(mic, None, speed=1.0, block_ms=100)
            app = VoiceLiveApp(settings, source=endpoint_source(audio=audio))
            async with app.run_test(size=(120, 36)) as pilot:
                await until(pilot, lambda: app.session is not None)
                conv = app.session.conversation
                await until(
                    pilot, lambda: conv.answered_user_turns >= 1 and audio.pending_ms() == 0
                )
                await pilot.press("t", *"tell me a long story", "enter")
                await until(pilot, lambda: conv.response_active and audio.pending_ms() > 0)
                await pilot.pause(0.8)  # some of the reply heard, then the barge-in
                await pilot.press("i")
                await until(pilot, lambda: emu.latest.last_truncate is not None)
                await pilot.pause(0.5)
                await pilot.press("t", *"thanks", "enter")
                await until(pilot, lambda: conv.received["response.done"] >= 3)
                await until(pilot, lambda: audio.pending_ms() == 0)
                await pilot.pause(0.5)
                await pilot.press("q")


if __name__ == "__main__":
    asyncio.run(record(Path(sys.argv[1])))
