"""Footprint from outside: CPU % of one core and terminal bytes/s, dashboard vs console.

The conversation is the same in both modes: ``--demo --no-greeting --input-wav speech.wav``.
The user speaks one long sentence, the emulated agent answers with a sentence and plays
the user's words back (so it talks for about the sentence's length plus 4 s), then the
WAV microphone sends silence (quiet, mic live); the dashboard is then muted with ``m``.
Phases are timed from the moment the screen shows the session ready; after the run the
events log confirms that each talking window lay between ``response.created`` and
``response.done``. CPU is utime + stime of the process from ``/proc`` (not its children,
as ``footprint.sh`` does); bytes are everything the program wrote to the terminal.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from common import Mode, Section, goal, launch, median, ratio, speech_wav, spread, workdir
from term import PtyProcess, Sampler

SIZES = ((160, 48), (80, 24))
SUB_WINDOWS = 3
READY = {"dashboard": "● ready", "console": "VOICE ASSISTANT READY"}
ANSWER_LEAD_S = 0.7  # VAD end of speech (500 ms silence) + the emulator's first audio delay
TALK_MARGIN_S = 1.0
AFTER_REPLY_S = 2.5
GOALS = {  # phase -> (CPU %, kB/s)
    "talking": (10.0, 30.0),
    "quiet, mic live": (3.0, 5.0),
    "muted": (3.0, 5.0),
    "muted, timeline shown": (3.0, 10.0),  # the time axis moves a column at a time
}


@dataclass
class Phases:
    """CPU % and kB/s per sub-window, per phase; and whether the talking was confirmed."""

    cpu: dict[str, list[float]] = field(default_factory=dict)
    rate: dict[str, list[float]] = field(default_factory=dict)
    confirmed: list[bool] = field(default_factory=list)

    def add(self, phase: str, cpu: float, rate: float) -> None:
        self.cpu.setdefault(phase, []).append(cpu)
        self.rate.setdefault(phase, []).append(rate)


def measure(proc: PtyProcess, phases: Phases, phase: str, seconds: float) -> tuple[float, float]:
    """Sample ``seconds`` in SUB_WINDOWS windows; the wall-clock span measured."""
    start = time.time()
    for _ in range(SUB_WINDOWS):
        sampler = Sampler(proc)
        time.sleep(seconds / SUB_WINDOWS)
        phases.add(phase, *sampler.result())
    return start, time.time()


def talking_confirmed(log_dir: Path, span: tuple[float, float]) -> bool:
    """True when the events log shows a response active over the whole window."""
    created = done = None
    for path in log_dir.glob("*_events.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            kind = (entry.get("event") or {}).get("type")  # runs of appends have none
            at = datetime.fromisoformat(entry["time"]).timestamp()
            if entry["direction"] == "received" and kind == "response.created" and created is None:
                created = at
            elif entry["direction"] == "received" and kind == "response.done" and done is None:
                done = at
    return created is not None and done is not None and created <= span[0] and span[1] <= done


def run_once(mode: Mode, kind: str, cols: int, rows: int, phases: Phases) -> None:
    """One conversation in ``kind`` (dashboard or console) at cols x rows."""
    wav_s = mode.speech_s
    with workdir() as where:
        wav = speech_wav(where / "speech.wav", wav_s)
        args = ["--demo", "--no-greeting", "--input-wav", str(wav)]
        if kind == "console":
            args.append("--no-tui")
        with launch(args, where, cols, rows) as proc:
            ready = proc.wait_for(READY[kind], 30)
            if ready is None:
                raise RuntimeError(f"{kind} did not get ready in 30 s")
            ready_at = proc.started + ready
            talk_from = ready_at + wav_s + ANSWER_LEAD_S + TALK_MARGIN_S
            time.sleep(max(0.0, talk_from - time.monotonic()))
            span = measure(proc, phases, "talking", mode.phase_s)
            if mode.quick:  # the talking phase only
                proc.write(b"\x03" if kind == "console" else b"q")
                finish(proc, phases, where, span)
                return
            # The reply: about 3.5 s of sentence, 0.25 s gap, then the user's words.
            reply_end = ready_at + wav_s + ANSWER_LEAD_S + 3.75 + wav_s
            time.sleep(max(0.0, reply_end + AFTER_REPLY_S - time.monotonic()))
            measure(proc, phases, "quiet, mic live", mode.phase_s)
            if kind == "dashboard":
                proc.write(b"m")
                time.sleep(1.0)
                measure(proc, phases, "muted", mode.phase_s)
                proc.write(b"g")  # the timeline (g): redrawn 4 times a second while shown
                time.sleep(1.0)
                measure(proc, phases, "muted, timeline shown", mode.phase_s)
            proc.write(b"\x03" if kind == "console" else b"q")
            finish(proc, phases, where, span)


def finish(proc: PtyProcess, phases: Phases, where: Path, span: tuple[float, float]) -> None:
    """Wait (5 s at most) for the program to quit; confirm the talking window."""
    deadline = time.monotonic() + 5
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    phases.confirmed.append(talking_confirmed(where / "logs", span))


def run(mode: Mode) -> Section:
    section = Section(
        "footprint",
        "Footprint in a pseudo-terminal: dashboard vs console, same conversation",
        [
            "size",
            "phase",
            "dashboard CPU % (min / med / max)",
            "console CPU %",
            "ratio",
            "goal CPU",
            "dashboard kB/s",
            "console kB/s",
            "goal kB/s",
        ],
    )
    console = Phases()
    dashboards = {size: Phases() for size in (SIZES[:1] if mode.quick else SIZES)}
    for _ in range(mode.footprint_runs):
        run_once(mode, "console", *SIZES[0], console)
        for size, phases in dashboards.items():
            run_once(mode, "dashboard", *size, phases)
    for (cols, rows), phases in dashboards.items():
        for phase, (cpu_goal, rate_goal) in GOALS.items():
            base = "talking" if phase == "talking" else "quiet, mic live"
            cpu, rate = phases.cpu.get(phase, []), phases.rate.get(phase, [])
            section.rows.append(
                [
                    f"{cols}x{rows}",
                    phase,
                    spread(cpu),
                    spread(console.cpu.get(base, [])),
                    ratio(median(cpu), median(console.cpu.get(base, []))),
                    goal(median(cpu), cpu_goal, " %"),
                    spread(rate),
                    spread(console.rate.get(base, []), "{:.2f}"),
                    goal(median(rate), rate_goal, " kB/s"),
                ]
            )
    confirmed = console.confirmed + [c for p in dashboards.values() for c in p.confirmed]
    section.notes.append(
        f"`voicelive-tui --demo --no-greeting --input-wav <{mode.speech_s:g} s sentence>` "
        f"(console: `--no-tui` added); {mode.footprint_runs} run(s) per size, each phase "
        f"{mode.phase_s:g} s in {SUB_WINDOWS} windows (figures: min / median / max of the "
        "windows; ratio and goals on the median). Console baseline at 160x48; its quiet "
        "phase is the baseline for muted. Talking windows confirmed inside a response by the "
        f"events log: {sum(confirmed)} of {len(confirmed)}."
    )
    return section
