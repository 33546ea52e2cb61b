"""Shared pieces of the benchmark sections: run modes, child environment, tables, goals."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from term import PtyProcess

RATE = 24_000


@dataclass(frozen=True)
class Mode:
    """How long and how often each section measures."""

    name: str  # quick, full, long
    phase_s: float  # footprint: seconds per phase
    footprint_runs: int
    memory_s: float
    latency_presses: int  # per key, per load
    startup_runs: int
    speech_s: float  # footprint, ssh_link: the user's sentence (the agent answers, then echoes it)

    @property
    def quick(self) -> bool:
        """Quick or smoke: one short pass of every measurement (under a minute in all, so
        that CI runs every section): one size, the talking phase only, the quiet load and
        the heaviest flood."""
        return self.name in ("quick", "smoke")


MODES = {
    "quick": Mode("quick", phase_s=1.0, footprint_runs=1, memory_s=8, latency_presses=1,
                  startup_runs=1, speech_s=2.5),
    "full": Mode("full", phase_s=9.0, footprint_runs=2, memory_s=240, latency_presses=20,
                 startup_runs=5, speech_s=12.0),
    "smoke": Mode("smoke", phase_s=1.0, footprint_runs=1, memory_s=8, latency_presses=1,
                  startup_runs=1, speech_s=2.5),
    "long": Mode("long", phase_s=9.0, footprint_runs=2, memory_s=600, latency_presses=20,
                 startup_runs=5, speech_s=12.0),
}  # fmt: skip


def tool(name: str) -> str:
    """A console script of the project next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"run.py: error: {name} not found: install the project (pip install -e .)")
    return found


def child_env() -> dict[str, str]:
    """The environment of a measured program: a colour terminal and no sound server, so
    every run is text-only or WAV-driven whatever this machine has running."""
    env = dict(os.environ)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", PULSE_SERVER="unix:/nonexistent")
    for name in list(env):
        if name.startswith("AZURE_VOICELIVE_") or name.startswith("TEXTUAL"):
            del env[name]
    return env


@contextmanager
def workdir() -> Iterator[Path]:
    """A scratch folder (cwd and logs of the measured program), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="vl-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def launch(
    args: Sequence[str],
    where: Path,
    cols: int = 160,
    rows: int = 48,
    *,
    marker: str | None = None,
    program: str = "voicelive-tui",
) -> PtyProcess:
    """``voicelive-tui ARGS --log-dir WHERE/logs`` on a pseudo-terminal."""
    argv = [tool(program), *args]
    if program == "voicelive-tui":
        argv += ["--log-dir", str(where / "logs")]
    return PtyProcess(argv, cols=cols, rows=rows, env=child_env(), cwd=where, marker=marker)


SPEECH = (
    "I would like to hear about the long voyage of the old sailing ship, how the crew "
    "crossed the wide grey ocean in the winter, what they ate and how they slept, which "
    "harbours they saw on the way, how the storms tore the sails and how the captain kept "
    "the ship on course through the night and the fog, and what they found when they came "
    "home at last to the quiet town by the sea where their families were waiting for them "
    "on the long stone pier in the cold morning light"
)


def speech_wav(path: Path, seconds: float) -> Path:
    """A WAV of one long spoken sentence (espeak-ng), cut to ``seconds``."""
    from voicelive_tui.emulator.speech import synthesize

    pcm = asyncio.run(synthesize(SPEECH, RATE))
    pcm = pcm[: int(seconds * RATE) * 2]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


# -- figures ---------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """``min / median / max`` (one value alone when there is one)."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    ordered = sorted(values)
    return " / ".join(fmt.format(v) for v in (ordered[0], statistics.median(ordered), ordered[-1]))


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def ratio(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None or baseline == 0:
        return "-"
    return f"{value / baseline:.1f}x"


def goal(value: float | None, limit: float, unit: str = "", *, below: bool = True) -> str:
    """``< 10 %: met`` / ``< 10 %: missed by 45.1 %``."""
    sign = "<" if below else ">"
    if value is None:
        return f"{sign} {limit:g}{unit}: no figure"
    if (value < limit) if below else (value > limit):
        return f"{sign} {limit:g}{unit}: **met**"
    return f"{sign} {limit:g}{unit}: **missed** by {abs(value - limit):.1f}{unit}"


@dataclass
class Section:
    """One section's Markdown: a title, the table, notes."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.header) + " |")
            lines.append("|" + "|".join("---" for _ in self.header) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in self.rows]
            lines.append("")
        lines += [note + "\n" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"
