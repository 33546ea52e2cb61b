"""The benchmark suite of the dashboard: footprint, audio glitches, memory, UI latency,
barge-in, start-up and a flood from the server, each figure beside a baseline measured in
the same run and its goal.

Usage: ``python benchmarks/run.py [--quick | --long] [--only SECTION ...] [--write]
[--label NAME]``. The default is the full run (memory over 4 minutes); ``--quick`` is one
short pass of every section, under a minute in all, four sections at a time (what CI runs,
so that none can rot; its figures are indicative); ``--long`` makes the memory section
10 minutes. ``--write`` puts the tables into ``benchmarks/RESULTS.md`` under ``--label``
(default ``latest``), replacing that label's earlier tables.

Needs the project installed (``voicelive-tui`` and ``voicelive-emulator`` beside this
Python) and espeak-ng. No sound card is used except by the glitch test (``glitch.py``),
which runs when it finds PulseAudio null sinks and says why when it does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import MODES, Mode, Section  # noqa: E402

RESULTS = HERE / "RESULTS.md"
SECTIONS = (
    "footprint",
    "glitch",
    "memory",
    "latency",
    "barge_in",
    "startup",
    "ssh_link",
    "flood",
    "recognition",
    "send_path",
    "echo",
    "echo_leak",
    "turn_waits",
    "device_watch",
)
QUICK_LANES = (
    ("footprint", "startup", "latency", "echo", "device_watch", "turn_waits"),
    ("glitch", "memory", "barge_in", "echo_leak"),
    ("recognition", "flood"),
    ("send_path", "ssh_link"),
)
"""--quick runs these four lanes at once: CPU and time (echo cancellation's CPU, the device
watch's, and last the end-of-speech wait of two turn detectors) in the first; the glitch
test (which makes its own load), memory, the playback callback and, last, the agent's
self-interruptions over a leaking speaker (PulseAudio null sinks, the greeting only) in the
second; speech recognition (its own CPU measure: process time) and the flood from the server
in the third; the send path's CPU on PulseAudio null sinks and bytes over SSH in the fourth.
Most sections wait on real time (speech, replies at the pace they play), so four lanes share
two cores; balanced by the sections' quick durations (each lane 30-50 s on a quiet machine,
one section at a time)."""
SECTION_TIMEOUT_S = {"smoke": 300.0, "quick": 300.0, "full": 1800.0, "long": 3600.0}
"""A section still running after this long is stopped (with everything it started) and
reported failed: one hung section must not hold up the others or CI."""
GLITCH_SECONDS = {"smoke": 4.0, "quick": 4.0, "full": 60.0, "long": 60.0}
GAP_GOAL = 0
RATIO_GOAL = (0.99, 1.01)


def figure(value: object, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def glitch_section(mode: Mode) -> Section:
    """The audio glitch test, when ``glitch.py`` is there and can run here."""
    section = Section(
        "glitch",
        "Glitch test: agent speech through PulseAudio null sinks under flood and load",
        ["mode", "seconds", "gaps > 10 ms", "longest gap ms", "speed ratio", "underruns",
         "overflows", "goal"],
    )  # fmt: skip
    try:
        glitch = importlib.import_module("glitch")
    except ImportError as exc:
        section.notes.append(f"Skipped: `benchmarks/glitch.py` is not available ({exc}).")
        return section
    reason = glitch.skip_reason()
    if reason is not None:
        section.notes.append(f"Skipped: {reason}")
        return section
    seconds = GLITCH_SECONDS[mode.name]
    rows = glitch.measure(seconds)
    by_mode = {row["mode"]: row for row in rows}
    for row in rows:
        gaps, speed = row.get("gaps"), row.get("speed_ratio")
        ok = (
            gaps is not None
            and speed is not None
            and gaps <= GAP_GOAL
            and RATIO_GOAL[0] <= speed <= RATIO_GOAL[1]
        )
        section.rows.append(
            [
                f"{row.get('mode')}" + (" (baseline)" if row.get("mode") == "console" else ""),
                figure(row.get("seconds"), "{:.1f}"),
                figure(gaps, "{}"),
                figure(row.get("longest_gap_ms"), "{:.0f}"),
                figure(speed, "{:.3f}"),
                figure(row.get("underruns"), "{}"),
                figure(row.get("overflows"), "{}"),
                "0 gaps, ratio 1.00 +/- 0.01: " + ("**met**" if ok else "**missed**"),
            ]
        )
    if "dashboard" in by_mode and "console" in by_mode:
        d, c = by_mode["dashboard"], by_mode["console"]
        section.notes.append(
            f"Dashboard vs console: {d.get('gaps')} vs {c.get('gaps')} gaps, speed ratio "
            f"{figure(d.get('speed_ratio'), '{:.3f}')} vs {figure(c.get('speed_ratio'), '{:.3f}')}."
        )
    note = getattr(glitch, "DESCRIPTION", None) or (glitch.__doc__ or "").strip().split("\n\n")[0]
    section.notes.append(f"`glitch.measure({seconds:g})`. {' '.join(note.split())}")
    return section


def runner(key: str) -> Callable[[Mode], Section]:
    if key == "glitch":
        return glitch_section
    if key == "echo_leak":  # the second section of echo.py
        return importlib.import_module("echo").run_leak  # type: ignore[no-any-return]
    return importlib.import_module(key).run  # type: ignore[no-any-return]


def run_lane(
    run_section: Callable[[str], Section],
) -> Callable[[list[str]], list[tuple[str, Section]]]:
    """A lane of sections, one after the other."""
    return lambda keys: [(key, run_section(key)) for key in keys]


def section_in_child(key: str, mode: str, timeout: float) -> Section:
    """Run one section in a process of its own (a session of its own, so that a section
    that hangs is stopped with every process it started) and return its Section.

    Its own process also keeps the lanes from importing the same modules at once in one
    interpreter (a partly initialised package seen by the other thread)."""
    with tempfile.TemporaryDirectory(prefix="bench-section-") as tmp:
        out = Path(tmp) / "section.json"
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child-section", key,
             "--child-mode", mode, "--child-out", str(out)],
            stdout=sys.stderr,  # its progress goes with the others'; the tables are printed here
            start_new_session=True,
        )  # fmt: skip
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise RuntimeError(f"still running after {timeout:.0f} s: stopped") from None
        finally:
            with_leftovers_stopped(child.pid)
        if code != 0 or not out.exists():
            raise RuntimeError(f"its process exited with {code}")
        return Section(**json.loads(out.read_text(encoding="utf-8")))


def with_leftovers_stopped(group: int) -> None:
    """Stop whatever the section's process left running in its session."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def child_main(key: str, mode: str, out: Path) -> int:
    """One section, in the process ``section_in_child`` started."""
    try:
        section = runner(key)(MODES[mode])
    except Exception:
        traceback.print_exc()
        return 1
    out.write_text(json.dumps(dataclasses.asdict(section)), encoding="utf-8")
    return 0


def machine() -> str:
    """One line: when, where, with what."""
    import numpy
    import textual

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores "
        f"({cpu}); Python {platform.python_version()}, Textual {textual.__version__}, numpy "
        f"{numpy.__version__}; commit {commit or '?'}; load average {load} (1 / 5 / 15 min) "
        "at the start"
    )


def write_results(
    label: str, header: str | None, sections: list[Section], results: Path = RESULTS
) -> None:
    """Replace (or append) this label's header and section blocks in ``results``."""
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    blocks = [("header", header)] if header is not None else []
    blocks += [(s.key, s.markdown()) for s in sections]
    for key, body in blocks:
        start, end = f"<!-- {label}:{key} -->", f"<!-- /{label}:{key} -->"
        block = f"{start}\n{body.rstrip()}\n{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        found = pattern.search(text)
        if found:
            text = text[: found.start()] + block + text[found.end() :]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    results.write_text(text.rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py", description=(__doc__ or "").split("\n\n")[0].replace("\n", " ")
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--quick", action="store_true", help="one short pass of every section (under a minute)"
    )
    length.add_argument("--long", action="store_true", help="memory over 10 minutes")
    length.add_argument(
        "--smoke", action="store_true", help="one pass of each measurement: checks the harness"
    )
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, metavar="SECTION",
        help=f"run only this section (repeatable): {', '.join(SECTIONS)}",
    )  # fmt: skip
    parser.add_argument("--write", action="store_true", help="put the tables in RESULTS.md")
    parser.add_argument("--child-section", choices=SECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="latest", help="RESULTS.md label (default: latest)")
    args = parser.parse_args(argv)
    if args.child_section:
        return child_main(args.child_section, args.child_mode, args.child_out)
    if not re.fullmatch(r"[\w.-]+", args.label):
        parser.error("--label: letters, digits, '.', '_' and '-' only")
    mode = MODES[
        "quick" if args.quick else "long" if args.long else "smoke" if args.smoke else "full"
    ]
    keys = [k for k in SECTIONS if not args.only or k in args.only]
    command = "python benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    header = f"## {args.label}\n\n`{command.strip()}` -- {machine()}.\n"
    print(header)
    failed: list[str] = []

    def run_section(key: str) -> Section:
        t0 = time.monotonic()
        print(f"[{key}] running ({mode.name})...", file=sys.stderr, flush=True)
        try:
            section = section_in_child(key, mode.name, SECTION_TIMEOUT_S[mode.name])
        except Exception as exc:  # one broken section must not lose the others
            failed.append(key)
            print(f"[{key}] failed: {exc}", file=sys.stderr, flush=True)
            section = Section(key, f"{key}: failed", [], notes=[f"Failed: {exc}"])
        print(f"[{key}] {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        return section

    sections: list[Section] = []
    if mode.quick:
        # Four lanes at once, so that a pass of every section takes under a
        # minute: its figures are indicative; the full run measures one section at a time.
        lanes = [[k for k in lane if k in keys] for lane in QUICK_LANES]
        with ThreadPoolExecutor(len(lanes)) as pool:
            done = dict(pair for lane in pool.map(run_lane(run_section), lanes) for pair in lane)
        for key in keys:
            done[key].notes.append("Quick run: four sections at a time.")
            print(done[key].markdown(), flush=True)
            sections.append(done[key])
    else:
        for key in keys:
            section = run_section(key)
            print(section.markdown(), flush=True)
            sections.append(section)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    header = header.rstrip().rstrip(".") + f", {load} at the end.\n"
    print(f"load average at the end: {load}")
    if args.write:
        if args.only:  # the label's header stays the full run's; each section says its run
            for section in sections:
                section.notes.append(f"Re-measured: {header.split(chr(10), 2)[2].strip()}")
            write_results(args.label, None, sections)
        else:
            write_results(args.label, header, sections)
        print(f"written to {RESULTS.relative_to(HERE.parent)} under '{args.label}'")
    if failed:
        print(f"run.py: error: sections failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
