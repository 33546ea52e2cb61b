"""Memory over busy minutes: RSS and live objects by type every 30 s.

The dashboard runs in ``memory_probe.py`` (a child process, headless Textual driver,
embedded emulator and scripted user) while a message is typed every 4 s. The first
sample after warm-up (30 s) is the baseline; the goal is RSS flat within +/- 5 MiB of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common import Mode, Section, child_env, workdir

INTERVAL_S = 30.0
WARM_UP_S = 30.0
FLAT_MIB = 5.0
TOP_TYPES = 8


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB), in MiB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / var * 60 if var else 0.0


def interval(mode: Mode) -> float:
    """Every 30 s; a quick run samples every 2 s, to have samples at all."""
    return 2.0 if mode.quick else INTERVAL_S


def run(mode: Mode) -> Section:
    probe = Path(__file__).with_name("memory_probe.py")
    with workdir() as where:
        argv = [sys.executable, str(probe), "--seconds", f"{mode.memory_s:g}",
                "--interval", f"{interval(mode):g}", "--log-dir", str(where / "logs")]  # fmt: skip
        done = subprocess.run(
            argv, capture_output=True, text=True, env=child_env(), cwd=where, check=False
        )
    samples = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(samples) < 2:
        raise RuntimeError(f"memory_probe failed: {done.stderr.strip()[-400:]}")
    after = [s for s in samples if s["t"] >= WARM_UP_S - 1] or samples[-2:]
    base, last = after[0], after[-1]
    section = Section(
        "memory",
        f"Memory: RSS and objects every {interval(mode):g} s, a message typed every 4 s",
        ["seconds", "typed turns", "RSS MiB", "vs baseline (first after warm-up)", "objects"],
    )
    for s in samples:
        section.rows.append(
            [
                f"{s['t']:.0f}" + (" (baseline)" if s is base else ""),
                str(s["turns"]),
                f"{s['rss']:.1f}",
                f"{s['rss'] - base['rss']:+.1f} MiB" if s["t"] >= base["t"] else "warm-up",
                f"{sum(s['objects'].values()):,}",
            ]
        )
    deviation = max(abs(s["rss"] - base["rss"]) for s in after)
    rate = slope([(s["t"], s["rss"]) for s in after])
    verdict = (
        "**met**" if deviation <= FLAT_MIB else f"**missed** by {deviation - FLAT_MIB:.1f} MiB"
    )
    grew = sorted(
        base["objects"],
        key=lambda k: last["objects"].get(k, 0) - base["objects"][k],
        reverse=True,
    )[:TOP_TYPES]
    growth = ", ".join(
        f"`{k}` {base['objects'][k]:,} -> {last['objects'].get(k, 0):,}"
        for k in grew
        if last["objects"].get(k, 0) > base["objects"][k]
    )
    section.notes += [
        f"Goal: RSS within +/- {FLAT_MIB:g} MiB of the baseline after warm-up: largest "
        f"deviation {deviation:.1f} MiB ({verdict}); slope {rate:+.2f} MiB/min over "
        f"{last['t'] - base['t']:.0f} s; RSS {base['rss']:.1f} -> {last['rss']:.1f} MiB "
        f"({last['rss'] / base['rss']:.2f}x).",
        f"Object types that grew most from the baseline to the end: {growth or 'none'}.",
        f"`python benchmarks/memory_probe.py --seconds {mode.memory_s:g} --interval "
        f"{interval(mode):g}`: `voicelive-tui --demo` in Textual's headless driver at 160x48 (the "
        "compositor renders as on a terminal; output is discarded), typing `t`, "
        "`message number N, please answer`, Enter every 4 s; objects counted with "
        "`gc.get_objects()` (no collection forced).",
    ]
    return section
