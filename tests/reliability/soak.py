"""The soak: a long accelerated conversation against the emulator, resources sampled.

``python -m tests.reliability.soak --seconds 60 --report soak.json --log-dir DIR`` runs
the real session (with its logs, and the dashboard's event-panel buffer fed as the
dashboard feeds it) against an in-process emulator, with a scripted user whose
microphone and speaker run ``SPEED`` times faster than real time. Each cycle speaks,
types, barges in on a long answer, and every fifth one reconnects (the ``r`` key). Every
second it samples RSS, open file descriptors, threads, asyncio tasks and the event
panel's length; the report says whether they stayed flat after the warm-up. (The
dashboard's rendering is left out: it would make the soak a CPU load on the rest of the
suite; the panels' own bounds are tested in tests/reliability/test_panels.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

SPEED = 4.0
"""Audio and emulator run this many times faster than real time."""
WAIT_S = 30.0
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


@contextlib.asynccontextmanager
async def emulator_process() -> AsyncIterator[str]:
    """``voicelive-emulator`` in its own process (its memory is not the client's)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicelive_tui.emulator",
        "--port",
        "0",
        "--speed",
        str(SPEED),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        endpoint = line.rsplit(" ", 1)[-1].strip()
        assert endpoint.startswith("http://"), line
        drain = asyncio.create_task(proc.stdout.read())  # its connection log
        yield endpoint
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        drain.cancel()


async def soak(seconds: float, log_dir: Path) -> SoakReport:
    from tests.integration.session_helpers import TEST_KEY, make_settings
    from voicelive_tui.audio.base import SAMPLE_RATE
    from voicelive_tui.conversation.reducer import ConnectionState
    from voicelive_tui.demo import ScriptedMic
    from voicelive_tui.emulator.speech import synthesize
    from voicelive_tui.runner import make_session, open_logs, open_target
    from voicelive_tui.ui.events_model import EventBuffer
    from voicelive_tui.updates import EventReceived, EventSent, Update

    report = SoakReport(seconds)
    panel = EventBuffer(max_entries=SOAK_PANEL_ENTRIES)
    report.panel_max = SOAK_PANEL_ENTRIES
    async with emulator_process() as endpoint:
        argv = ["--endpoint", endpoint, "--api-key", TEST_KEY, "--log-dir", str(log_dir)]
        settings = make_settings(*argv, "--block-ms", str(SOAK_BLOCK_MS))
        mic = ScriptedMic(speed=SPEED, block_ms=SOAK_BLOCK_MS)
        clip = await synthesize("Please tell me about the weather today.", SAMPLE_RATE)
        logs = open_logs(settings)
        async with open_target(settings) as target:
            session = make_session(settings, target, logs, mic)

            def to_panel(update: Update) -> None:  # what the dashboard's event log gets
                if isinstance(update, (EventSent, EventReceived)):
                    direction = "sent" if isinstance(update, EventSent) else "received"
                    panel.add(direction, update.event, update.at)

            session.subscribe(to_panel)
            running = asyncio.create_task(session.run())
            conv = session.conversation
            started = time.monotonic()

            def sample() -> None:
                report.samples.append(
                    Sample(
                        at=round(time.monotonic() - started, 2),
                        rss_mb=round(rss_mb(), 1),
                        fds=len(os.listdir("/proc/self/fd")),
                        threads=threading.active_count(),
                        tasks=len(asyncio.all_tasks()),
                        panel=len(panel.entries),
                    )
                )

            async def sampler() -> None:
                while True:
                    sample()
                    await asyncio.sleep(1.0)

            async def until(check, what: str) -> bool:  # type: ignore[no-untyped-def]
                deadline = time.monotonic() + WAIT_S
                while not check():
                    if time.monotonic() > deadline or running.done():
                        report.errors.append(f"cycle {report.cycles}: no {what} in {WAIT_S} s")
                        return False
                    await asyncio.sleep(0.02)
                return True

            def quiet() -> bool:
                return (
                    conv.connection == ConnectionState.READY
                    and not conv.response_active
                    and session.audio.pending_ms() == 0
                )

            sampling = asyncio.create_task(sampler())
            try:
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
                    await session.interrupt()
                    await session.send_text("Thanks, that is enough.")
                    if not await until(
                        lambda a=answered: conv.answered_user_turns > a and quiet(), "typed turn"
                    ):
                        break
                    if report.cycles % 5 == 0:
                        before = conv.session.id
                        session.reconnect()
                        await until(lambda b=before: conv.session.id != b, "reconnect")
                        await until(quiet, "ready session after r")
                report.answered = conv.answered_user_turns
            finally:
                sample()
                sampling.cancel()
                session.quit()
                await asyncio.wait_for(running, 10)
                logs.close()
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
