"""A flood from the server: the dashboard against a server that streams transcript deltas
as fast as the client reads them (issue 18).

The server is ``tests/reliability/badserver.py``'s "flood" behaviour in a process of its
own: one agent reply of ``DELTAS`` ``response.audio_transcript.delta`` events, then its
``done`` events. ``voicelive-tui --endpoint URL --api-key K --no-audio`` runs on a 160x48
pseudo-terminal. Measured while the flood runs: CPU % of one core and the events log's
growth over ``WINDOW_S``, the help key's latency (``?`` until the help text is on screen),
and the time from ``q`` to the process gone; then, in a second run left to the end of the
flood, how long the client took to read the whole reply and how large the events log
ended. The baseline is the same server with a reply of no deltas (quiet).
"""

from __future__ import annotations

import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import Mode, Section, child_env, launch, median, ratio, spread, workdir
from term import PtyProcess

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
DELTAS = 100_000
WINDOW_S = 5.0
HELP = (b"?", "shows a Voice Live conversation")
KEY_TIMEOUT_S = 10.0
QUIT_TIMEOUT_S = 30.0
READ_ALL_TIMEOUT_S = 300.0
"""The whole flood not read by then: reported as not read (a stalled client), not waited for."""
GOAL_QUIT_S = 2.0
GOAL_KEY_MS = 200.0


@dataclass
class Figures:
    cpu_pct: float | None = None
    log_kb_s: float | None = None
    key_ms: list[float] = field(default_factory=list)
    key_timeouts: int = 0
    quit_s: float | None = None
    read_all_s: float | None = None  # the whole reply, first byte to the server's last
    events_kb: float | None = None  # the events log at exit


def line_within(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The process's next line of output, or None when none came within ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else None


def start_server(deltas: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.badserver", "flood", str(deltas)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    endpoint = line_within(proc, 30.0) or ""
    if not endpoint.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"the flood server did not start: {endpoint!r}")
    return proc, endpoint


def events_bytes(where: Path) -> int:
    return sum(p.stat().st_size for p in (where / "logs").glob("*_events.jsonl"))


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def quit_time(proc: PtyProcess) -> float | None:
    sent = time.monotonic()
    proc.write(b"q")
    if not wait_for(lambda: not proc.alive(), QUIT_TIMEOUT_S):
        return None
    return time.monotonic() - sent


def streaming(where: Path) -> bool:
    for path in (where / "logs").glob("*_events.jsonl"):
        with path.open("rb") as f:
            if b"response.audio_transcript.delta" in f.read(1 << 20):
                return True
    return False


@contextmanager
def flooded(deltas: int) -> Iterator[tuple[subprocess.Popen[str], Path, PtyProcess]]:
    """The flood server and the dashboard on it, once the flood (or, with no deltas,
    the session) has started: (server, work folder, dashboard)."""
    server, endpoint = start_server(deltas)
    try:
        with workdir() as where:
            args = ["--endpoint", endpoint, "--api-key", KEY, "--no-audio"]
            with launch(args, where, 160, 48) as proc:
                if deltas:
                    if not wait_for(lambda: streaming(where), 30):
                        raise RuntimeError("the flood did not start in 30 s")
                elif proc.wait_for("ready", 30) is None:
                    raise RuntimeError("the dashboard did not get ready in 30 s")
                yield server, where, proc
    finally:
        server.kill()
        server.wait()


def under_flood(deltas: int, presses: int) -> Figures:
    """CPU, log growth and key latency while the flood runs, then q."""
    figures = Figures()
    with flooded(deltas) as (_server, where, proc):
        time.sleep(1.0)
        cpu0, log0, t0 = proc.cpu_seconds(), events_bytes(where), time.monotonic()
        time.sleep(WINDOW_S)
        cpu1, log1, t1 = proc.cpu_seconds(), events_bytes(where), time.monotonic()
        figures.cpu_pct = (cpu1 - cpu0) / (t1 - t0) * 100
        figures.log_kb_s = (log1 - log0) / 1024 / (t1 - t0)
        key, marker = HELP
        for _ in range(presses):
            took = proc.key_to_marker(key, marker, KEY_TIMEOUT_S)
            if took is None:
                figures.key_timeouts += 1
                break
            figures.key_ms.append(took * 1000)
            time.sleep(0.3)
            proc.write(key)  # closes the help
            time.sleep(0.5)
        figures.quit_s = quit_time(proc)
    return figures


def to_the_end(deltas: int) -> Figures:
    """The whole flood read: how long it took, the events log at the end, then q."""
    figures = Figures()
    with flooded(deltas) as (server, where, proc):
        started, cpu0 = time.monotonic(), proc.cpu_seconds()
        if line_within(server, READ_ALL_TIMEOUT_S) == "flood done":
            figures.read_all_s = time.monotonic() - started
            figures.cpu_pct = (proc.cpu_seconds() - cpu0) / figures.read_all_s * 100
        figures.quit_s = quit_time(proc)
        figures.events_kb = events_bytes(where) / 1024
    return figures


def fmt(value: float | None, spec: str = "{:.1f}") -> str:
    return "-" if value is None else spec.format(value)


def run(mode: Mode) -> Section:
    deltas = DELTAS // 4 if mode.quick else DELTAS
    presses = 3 if mode.quick else 6
    section = Section(
        "flood",
        f"A flood from the server: {deltas:,} transcript deltas as fast as they are read",
        [
            "run",
            "CPU % of a core",
            "events log kB/s",
            "`?` to help on screen, ms (min / med / max)",
            "`q` to exit, s",
            "goal: q < 2 s, key < 200 ms",
        ],
    )
    quiet = under_flood(0, presses)
    flood = under_flood(deltas, presses)
    for name, f in (("quiet (baseline)", quiet), ("flood", flood)):
        key = median(f.key_ms)
        met = (
            f.quit_s is not None
            and f.quit_s < GOAL_QUIT_S
            and not f.key_timeouts
            and key is not None
            and max(f.key_ms) < GOAL_KEY_MS
        )
        section.rows.append(
            [
                name,
                fmt(f.cpu_pct),
                fmt(f.log_kb_s),
                spread(f.key_ms, "{:.0f}") + (f", {f.key_timeouts} timeout" * bool(f.key_timeouts)),
                fmt(f.quit_s, "{:.2f}") if f.quit_s is not None else f"> {QUIT_TIMEOUT_S:g}",
                "**met**" if met else "**missed**",
            ]
        )
    end = to_the_end(deltas)
    rate = deltas / end.read_all_s if end.read_all_s else None
    section.notes.append(
        f"Flood vs quiet: `q` {ratio(flood.quit_s, quiet.quit_s)}, key (median) "
        f"{ratio(median(flood.key_ms), median(quiet.key_ms))}. The whole flood left to run: "
        f"read in {fmt(end.read_all_s)} s ({fmt(rate, '{:,.0f}')} "
        f"deltas/s) at {fmt(end.cpu_pct)} % of a core; events log at the end "
        f"{fmt(end.events_kb, '{:,.0f}')} kB; `q` after it {fmt(end.quit_s, '{:.2f}')} s."
    )
    note = " ".join((__doc__ or "").strip().split("\n\n")[1].split())
    section.notes.append(note)
    return section


if __name__ == "__main__":
    from common import MODES

    print(run(MODES["quick" if "--quick" in sys.argv else "full"]).markdown())
