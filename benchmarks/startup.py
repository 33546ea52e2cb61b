"""Start-up: process start to the first frame and to the status bar's ready state.

Measured from outside on a pseudo-terminal (160x48): the first frame is the first
terminal output with visible text (Textual writes the whole first screen at once); ready
is the first output that shows the status bar's ready state. The baseline is console
mode's time to its ready banner on the same embedded emulator: the same imports,
connection and session configuration, without the dashboard, so the ratio is the
dashboard's own cost. ``python -c "import textual"`` is shown for reference.
"""

from __future__ import annotations

import subprocess
import sys
import time

from common import Mode, Section, child_env, goal, launch, median, ratio, spread, workdir

READY = {"dashboard": "● ready", "console": "VOICE ASSISTANT READY"}
GOAL_S = 1.0


def once(kind: str) -> tuple[float | None, float | None]:
    """(seconds to first frame, seconds to ready) of one start."""
    args = ["--demo"] if kind == "dashboard" else ["--demo", "--no-tui"]
    with workdir() as where:
        proc = launch(args, where, marker=READY[kind])
        with proc:
            assert proc.marker_found is not None
            ready = proc.seen_at if proc.marker_found.wait(30) else None
            first = proc.first_text - proc.started if proc.first_text is not None else None
            proc.write(b"q" if kind == "dashboard" else b"\x03")
            deadline = time.monotonic() + 5
            while proc.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
    return first, (ready - proc.started if ready is not None else None)


def import_textual() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import textual.app"], check=True, env=child_env())
    return time.monotonic() - t0


def run(mode: Mode) -> Section:
    section = Section(
        "startup",
        "Start-up: process start to first frame and to ready",
        ["what", "seconds (min / med / max)", "baseline: console to ready", "ratio", "goal"],
    )
    results: dict[str, tuple[list[float], list[float]]] = {
        kind: ([], []) for kind in ("dashboard", "console")
    }
    for _ in range(mode.startup_runs):
        for kind, (firsts, readies) in results.items():
            first, ready = once(kind)
            if first is not None:
                firsts.append(first)
            if ready is not None:
                readies.append(ready)
    base = results["console"][1]
    imports = [import_textual() for _ in range(mode.startup_runs)]
    rows = [
        ("dashboard: first frame", results["dashboard"][0], True),
        ("dashboard: ready on screen", results["dashboard"][1], True),
        ("console: ready banner (baseline)", base, False),
        ("`python -c 'import textual.app'` (reference)", imports, False),
    ]
    for what, values, has_goal in rows:
        section.rows.append(
            [
                what,
                spread(values, "{:.2f}"),
                spread(base, "{:.2f}"),
                ratio(median(values), median(base)),
                goal(median(values), GOAL_S, " s") if has_goal else "-",
            ]
        )
    failed = mode.startup_runs - len(results["dashboard"][1])
    section.notes.append(
        f"`voicelive-tui --demo` and `voicelive-tui --demo --no-tui` on a 160x48 "
        f"pseudo-terminal, {mode.startup_runs} starts each, alternating"
        + (f"; {failed} dashboard start(s) never showed ready in 30 s" if failed else "")
        + ". Baseline: console mode's time to ready, because it does the same imports, "
        "emulator start, connection and session set-up, so the ratio is what the dashboard "
        "adds; importing Textual alone is shown for scale."
    )
    return section
