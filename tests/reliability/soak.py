"""The soak: a long accelerated conversation against the emulator, resources sampled.

``python -m tests.reliability.soak --seconds 60 --report soak.json`` runs the dashboard
(headless, the real app and session) against an in-process emulator, with a scripted
user whose microphone and speaker run ``SPEED`` times faster than real time. Each cycle
speaks, types, barges in on a long answer, and every fifth one presses ``r``. Every
second it samples RSS, open file descriptors, threads, asyncio tasks and the event
panel's length; the report says whether they stayed flat after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SPEED = 4.0
"""Audio and emulator run this many times faster than real time."""
WAIT_S = 30.0
SOAK_TURN_VIEWS = 12
SOAK_PANEL_ENTRIES = 100
SOAK_BLOCK_MS = 100
"""Microphone blocks of 100 ms: fewer appends, so the soak shares the CPU politely."""


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int
    threads: int
    tasks: int
    panel: int


@dataclass
class SoakReport:
    seconds: float
    cycles: int = 0
    answered: int = 0
    panel_max: int = 0
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def window(self, start: float, end: float) -> list[Sample]:
        n = len(self.samples)
        return self.samples[int(n * start) : max(int(n * start) + 1, int(n * end))]

    def problems(self) -> list[str]:
        """Why the run is not flat (empty when it is)."""
        out = list(self.errors)
        if len(self.samples) < 8:
            return [*out, f"only {len(self.samples)} samples"]
        warm, last = self.window(0.25, 0.5), self.window(0.75, 1.0)
        rss_growth = statistics.median(s.rss_mb for s in last) - statistics.median(
            s.rss_mb for s in warm
        )
        if rss_growth > 25:
            out.append(f"RSS grew {rss_growth:.1f} MB after the warm-up")
        for name, slack in (("fds", 3), ("threads", 1), ("tasks", 12)):
            before = max(getattr(s, name) for s in warm)
            after = max(getattr(s, name) for s in last)
            if after > before + slack:
                out.append(f"{name} grew from {before} to {after}")
        over = [s.panel for s in self.samples if s.panel > self.panel_max]
        if over:
            out.append(f"event panel over its bound {self.panel_max}: {max(over)}")
        if self.cycles < 3:
            out.append(f"only {self.cycles} conversation cycles")
        return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def soak(seconds: float, log_dir: Path) -> SoakReport:
    from tests.integration.session_helpers import TEST_KEY, make_settings
    from voicelive_tui.audio.base import SAMPLE_RATE
    from voicelive_tui.conversation import ConnectionState
    from voicelive_tui.emulator import run_emulator
    from voicelive_tui.emulator.speech import synthesize
    from voicelive_tui.ui.app import VoiceLiveApp
    from voicelive_tui.ui.demo import ScriptedMic
    from voicelive_tui.ui.sources import endpoint_source
    from voicelive_tui.ui.widgets.conversation import ConversationPanel

    report = SoakReport(seconds)
    async with run_emulator(port=0, speed=SPEED) as emu:
        settings = make_settings(
            "--endpoint",
            emu.endpoint,
            "--api-key",
            TEST_KEY,
            "--log-dir",
            str(log_dir),
            "--block-ms",
            str(SOAK_BLOCK_MS),
        )
        mic = ScriptedMic(speed=SPEED, block_ms=SOAK_BLOCK_MS)
        # A few minutes of conversation fill a small panel: its bound is exercised too.
        ConversationPanel.MAX_TURN_VIEWS = SOAK_TURN_VIEWS
        app = VoiceLiveApp(settings, source=endpoint_source(mic))
        clip = await synthesize("Please tell me about the weather today.", SAMPLE_RATE)
        async with app.run_test(size=(120, 36)) as pilot:
            app.event_log.buffer.max_entries = report.panel_max = SOAK_PANEL_ENTRIES
            started = time.monotonic()

            def sample() -> None:
                report.samples.append(
                    Sample(
                        at=round(time.monotonic() - started, 2),
                        rss_mb=round(rss_mb(), 1),
                        fds=len(os.listdir("/proc/self/fd")),
                        threads=threading.active_count(),
                        tasks=len(asyncio.all_tasks()),
                        panel=len(app.event_log.buffer.entries),
                    )
                )

            async def sampler() -> None:
                while True:
                    sample()
                    await asyncio.sleep(1.0)

            async def until(check, what: str) -> bool:  # type: ignore[no-untyped-def]
                deadline = time.monotonic() + WAIT_S
                while not check():
                    if time.monotonic() > deadline:
                        report.errors.append(f"cycle {report.cycles}: no {what} in {WAIT_S} s")
                        return False
                    await asyncio.sleep(0.02)
                return True

            sampling = asyncio.create_task(sampler())
            try:
                if not await until(lambda: app.session is not None, "session"):
                    return report
                session = app.session
                assert session is not None
                conv = session.conversation

                def quiet() -> bool:
                    return (
                        conv.connection == ConnectionState.READY
                        and not conv.response_active
                        and session.audio.pending_ms() == 0
                    )

                await until(quiet, "ready session")
                while time.monotonic() - started < seconds and not report.errors:
                    report.cycles += 1
                    answered = conv.answered_user_turns
                    mic.feed(clip)
                    if not await until(
                        lambda a=answered: conv.answered_user_turns > a and quiet(), "spoken turn"
                    ):
                        break
                    answered = conv.answered_user_turns
                    await session.send_text(f"Tell me a long story, number {report.cycles}.")
                    if not await until(lambda: conv.response_active, "response"):
                        break
                    await pilot.press("space")  # interrupt
                    await session.send_text("Thanks, that is enough.")
                    if not await until(
                        lambda a=answered: conv.answered_user_turns > a and quiet(), "typed turn"
                    ):
                        break
                    if report.cycles % 5 == 0:
                        before = len(emu.connections)
                        await pilot.press("r")
                        await until(lambda b=before: len(emu.connections) > b, "reconnect")
                        await until(quiet, "ready session after r")
                report.answered = conv.answered_user_turns
            finally:
                sample()
                sampling.cancel()
                await pilot.press("q")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.seconds, args.log_dir))
    data = asdict(report)
    data["problems"] = report.problems()
    args.report.write_text(json.dumps(data, indent=1))
    return 0 if not data["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
