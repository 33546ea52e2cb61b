"""Send path: CPU % of one core of the seed quickstart, console mode and the dashboard, side
by side on real PortAudio devices (PulseAudio null sinks) against the emulator.

Each client runs alone, in turn, in every round: the seed quickstart
(``seed_quickstart.py``: pyaudio, 50 ms blocks), ``voicelive-tui --no-tui`` and the
dashboard at 160x48 (both 20 ms blocks). Once a client shows it is ready: *quiet* (the
microphone live on a silent sink, every block appended) and then *talking* (a spoken
sentence played into the microphone sink with ``paplay``, the emulator's spoken reply
played back). CPU is utime + stime of the client's process from ``/proc``; each figure is
the median over the rounds, and the ratios are taken within the run, so a loaded machine
slows every client alike.

``--tree DIR`` adds a console and a dashboard run from the package in ``DIR`` (e.g. a
``git archive`` of an older commit) to every round, alternating with the current one: a
before/after comparison in one run. ``--profile DIR`` writes py-spy's raw stacks of each
client's quiet and talking phases (py-spy next to this Python or on PATH).

``--floor`` adds ``send_floor.py`` (an input stream of 20 ms blocks and the SDK's appends,
nothing else: what any client with 20 ms blocks pays; it plays no reply) to every round;
``--only KIND`` (repeatable) runs only those clients; ``--floor-variant "--text"``
(repeatable) adds the floor run with those options (see ``send_floor.py``). ``--threads``
adds a table of where each client's CPU goes, thread by thread (``thread_use.py``: the
loop's thread, PortAudio's callback thread, libpulse's ``threaded-ml``, Python's named
threads), with each role's context switches a second.

Run: ``python benchmarks/send_path.py [--rounds N] [--tree DIR] [--profile DIR] [--floor]
[--only seed|floor|console|dashboard] [--floor-variant OPTIONS] [--threads]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (HERE, ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from common import Mode, Section, median, ratio, speech_wav, spread  # noqa: E402
from glitch import KEY, audio_lab, skip_reason, stop  # noqa: E402
from term import PtyProcess, Sampler  # noqa: E402
from thread_use import RoleUse, Window  # noqa: E402

SEED = HERE / "seed_quickstart.py"
FLOOR = HERE / "send_floor.py"
KINDS = ("seed", "floor", "console", "dashboard")

SIZE = (160, 48)
READY = {
    "seed": "VOICE ASSISTANT READY",
    "floor": "VOICE ASSISTANT READY",
    "console": "VOICE ASSISTANT READY",
    "dashboard": "ready",
}
SETTLE_S = 3.0
"""After the ready line: the start-up's last work (the seed opens its streams only after
its ready line) is done before quiet is measured."""
REPLY_S = 3.0
"""How much of the agent's reply the talking window covers after the user's sentence."""
ANSWER_LEAD_S = 0.7
GOALS = {"dashboard quiet": 1.5, "dashboard talking": 2.0}
"""The dashboard within these multiples of console (console: at or below the seed)."""


@dataclass
class Figures:
    """CPU % per phase, one value per round."""

    cpu: dict[str, list[float]] = field(default_factory=dict)
    threads: dict[str, list[dict[str, RoleUse]]] = field(default_factory=dict)
    """Per phase, one entry a round: each thread role's use (``--threads``)."""

    def add(self, phase: str, value: float, threads: dict[str, RoleUse] | None = None) -> None:
        self.cpu.setdefault(phase, []).append(value)
        if threads is not None:
            self.threads.setdefault(phase, []).append(threads)

    def median(self, phase: str) -> float | None:
        return median(self.cpu.get(phase, []))


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(
    profile: Path | None, pid: int, seconds: float, name: str
) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` for ``seconds`` into ``profile/name.txt`` (raw, one line a
    stack; without pausing the process, so the figures beside it stay true)."""
    tool = py_spy()
    if profile is None or tool is None:
        return None
    return subprocess.Popen(
        [tool, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "200",
         "--nonblocking", "-f", "raw", "-o", str(profile / f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def client_argv(kind: str, endpoint: str, work: Path) -> list[str]:
    if kind == "seed":
        return [sys.executable, str(SEED), "--api-key", KEY, "--endpoint", endpoint]
    if kind.split()[0] == "floor":  # "floor --text ...": a variant, with those options
        return [sys.executable, str(FLOOR), "--api-key", KEY, "--endpoint", endpoint,
                *kind.split()[1:]]  # fmt: skip
    argv = [sys.executable, "-m", "voicelive_tui", "--endpoint", endpoint, "--api-key", KEY]
    argv += ["--no-greeting", "--log-dir", str(work / "logs")]
    return argv + (["--no-tui"] if kind == "console" else [])


def run_client(
    kind: str,
    *,
    endpoint: str,
    env: dict[str, str],
    pulse_popen: Callable[..., subprocess.Popen[bytes]],
    wav: Path,
    wav_s: float,
    quiet_s: float,
    figures: Figures,
    tree: Path | None = None,
    profile: Path | None = None,
    threads: bool = False,
) -> None:
    """One client: ready, quiet for ``quiet_s``, then a spoken turn and the reply."""
    work = Path(tempfile.mkdtemp(prefix=f"send-{kind}-"))
    env = {**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    try:
        with PtyProcess(
            client_argv(kind, endpoint, work), cols=SIZE[0], rows=SIZE[1], env=env, cwd=work
        ) as proc:
            if proc.wait_for(READY[kind.split()[0]], 40) is None:
                raise RuntimeError(f"{kind} did not get ready in 40 s: {bytes(proc.tail)[-300:]!r}")
            time.sleep(SETTLE_S)
            name = f"{kind}{'-tree' if tree else ''}-{int(time.time())}"
            spy = record(profile, proc.pid, quiet_s, f"{name}-quiet")
            window = Window(proc.pid) if threads else None
            sampler = Sampler(proc)
            time.sleep(quiet_s)
            figures.add("quiet", sampler.result()[0], window and window.result())
            if spy is not None:
                spy.wait(timeout=quiet_s + 20)
            talk_s = wav_s + ANSWER_LEAD_S + REPLY_S
            spy = record(profile, proc.pid, talk_s, name)
            speaker = pulse_popen("paplay", "--device=mic", str(wav))
            window = Window(proc.pid) if threads else None
            sampler = Sampler(proc)
            time.sleep(talk_s)
            figures.add("talking", sampler.result()[0], window and window.result())
            stop(speaker)
            if spy is not None:
                spy.wait(timeout=talk_s + 20)
            proc.write(b"q" if kind == "dashboard" else b"\x03")
            deadline = time.monotonic() + 5
            while proc.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(
    rounds: int,
    quiet_s: float,
    wav_s: float,
    tree: Path | None = None,
    profile: Path | None = None,
    only: tuple[str, ...] = ("seed", "console", "dashboard"),
    threads: bool = False,
) -> dict[str, Figures]:
    """Every client of ``only`` in every round (see the module docstring); figures by
    client (the seed's empty without pyaudio)."""
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        kinds = [k for k in only if k != "seed"]
    else:
        kinds = list(only)
    clients = [(k, None) for k in kinds]
    if tree is not None:
        clients += [(k, tree) for k in kinds if k in ("console", "dashboard")]
    figures = {label(k, t): Figures() for k, t in clients}
    with audio_lab("vltui-send-", faults=()) as lab:
        env = lab.env()
        for name in list(env):
            if name.startswith(("AZURE_VOICELIVE_", "TEXTUAL")):
                del env[name]
        wav = speech_wav(lab.base / "speech.wav", wav_s)
        for n in range(rounds):
            # Alternate the order, so that neither side always runs first.
            order = clients if n % 2 == 0 else clients[::-1]
            for kind, where in order:
                run_client(
                    kind, endpoint=lab.endpoint, env=env, pulse_popen=lab.pulse.popen, wav=wav,
                    wav_s=wav_s, quiet_s=quiet_s, figures=figures[label(kind, where)],
                    tree=where, profile=profile, threads=threads,
                )  # fmt: skip
    for kind in ("seed", "console"):
        figures.setdefault(kind, Figures())
    return figures


def label(kind: str, tree: Path | None) -> str:
    return kind if tree is None else f"{kind} (before)"


def verdict(
    quiet: float | None, talking: float | None, quiet_max: float | None, talking_max: float | None
) -> str:
    """**met** when both figures are at or below their limits."""
    if quiet is None or talking is None or quiet_max is None or talking_max is None:
        return "no figure"
    return "**met**" if quiet <= quiet_max and talking <= talking_max else "**missed**"


def section(figures: dict[str, Figures], note: str) -> Section:
    out = Section(
        "send_path",
        "Send path: the seed quickstart, console and dashboard on PulseAudio null sinks",
        ["client", "quiet CPU %", "talking CPU %", "quiet vs seed", "talking vs seed",
         "quiet vs console", "talking vs console", "goal"],
    )  # fmt: skip
    seed, console = figures["seed"], figures["console"]
    for name, fig in figures.items():
        q, t = fig.median("quiet"), fig.median("talking")
        goal = "-"
        if name == "console":
            goal = "<= seed: " + verdict(q, t, seed.median("quiet"), seed.median("talking"))
        elif name == "dashboard":
            cq, ct = console.median("quiet"), console.median("talking")
            goal = "quiet <= 1.5x, talking <= 2x console: " + verdict(
                q, t, None if cq is None else GOALS["dashboard quiet"] * cq,
                None if ct is None else GOALS["dashboard talking"] * ct,
            )  # fmt: skip
        if not fig.cpu:
            why = "pyaudio not installed: not run" if name == "seed" else "not run"
            out.rows.append([name, "-", "-", "-", "-", "-", "-", why])
            continue
        out.rows.append(
            [
                name,
                spread(fig.cpu.get("quiet", [])),
                spread(fig.cpu.get("talking", [])),
                ratio(q, seed.median("quiet")),
                ratio(t, seed.median("talking")),
                ratio(q, console.median("quiet")),
                ratio(t, console.median("talking")),
                goal,
            ]
        )
    out.notes.append(note)
    return out


ROLE_ORDER = ("loop", "PortAudio callback", "threaded-ml")


def thread_section(figures: dict[str, Figures]) -> Section:
    """Each client's CPU by thread role (``--threads``): medians over the rounds."""
    out = Section(
        "send_path_threads",
        "Send path per thread: CPU % of one core and context switches a second",
        ["client", "thread", "threads", "quiet CPU %", "quiet switches/s (preempted)",
         "talking CPU %", "talking switches/s (preempted)"],
    )  # fmt: skip
    for name, fig in figures.items():
        if not fig.threads:
            continue
        found = {role for rounds in fig.threads.values() for use in rounds for role in use}
        ordered = [r for r in ROLE_ORDER if r in found] + sorted(found - set(ROLE_ORDER))
        for role in [*ordered, "all"]:
            cells = [name, role, str(max(role_use(fig, p, role)[0] for p in fig.threads))]
            for phase in ("quiet", "talking"):
                _, cpu, switches, preempted = role_use(fig, phase, role)
                cells.append("-" if cpu is None else f"{cpu:.2f}")
                cells.append("-" if switches is None else f"{switches:.0f} ({preempted:.0f})")
            out.rows.append(cells)
    out.notes.append(
        "Per thread from `/proc/PID/task/*` (`benchmarks/thread_use.py`: run time from "
        "`schedstat`; context switches, voluntary and involuntary, the latter in "
        "parentheses: preempted, not asleep), over the same windows as "
        "the table above; medians over the rounds. *loop*: the main thread, where each "
        "client runs its event loop; *PortAudio callback*: a thread with no Python name "
        "waiting in poll (one per stream); *threaded-ml*: libpulse's mainloop behind ALSA's "
        "pulse plugin (one per stream); other names are Python threads' own."
    )
    return out


def role_use(
    fig: Figures, phase: str, role: str
) -> tuple[int, float | None, float | None, float | None]:
    """(threads, median CPU %, median switches/s, median involuntary switches/s) of
    ``role`` (``all``: every thread) in ``phase`` over the rounds; a round without the role
    counts as zero."""
    rounds = fig.threads.get(phase, [])
    if not rounds:
        return 0, None, None, None
    picked = [
        list(use.values()) if role == "all" else [use[role]] if role in use else []
        for use in rounds
    ]
    return (
        max(sum(u.threads for u in p) for p in picked),
        median([sum(u.cpu for u in p) for p in picked]),
        median([sum(u.switches for u in p) for p in picked]),
        median([sum(u.involuntary for u in p) for p in picked]),
    )


def run(mode: Mode) -> Section:
    """The quick benchmarks' row: one round (quick) or three, short phases."""
    reason = skip_reason()
    if reason is not None:
        return Section("send_path", "Send path", [], notes=[f"Skipped: {reason}"])
    rounds = 1 if mode.quick else 3
    quiet_s = 2.0 if mode.quick else 8.0
    wav_s = mode.speech_s if mode.quick else 4.0
    figures = measure(rounds, quiet_s, wav_s)
    return section(figures, describe(rounds, quiet_s, wav_s))


def describe(rounds: int, quiet_s: float, wav_s: float) -> str:
    return (
        f"{rounds} round(s), each client alone in turn; quiet {quiet_s:g} s with the "
        f"microphone live, talking {wav_s + ANSWER_LEAD_S + REPLY_S:g} s (a {wav_s:g} s "
        "sentence into the microphone sink, then the emulator's reply). Figures: min / "
        "median / max over the rounds; ratios on the medians. The seed quickstart is "
        "`benchmarks/seed_quickstart.py` (pyaudio, 50 ms blocks); voicelive-tui uses 20 ms "
        "blocks. CPU % of one core of the client's own process."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="send_path.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", type=float, default=8.0, help="seconds of the quiet phase")
    parser.add_argument("--speech", type=float, default=4.0, help="seconds of the sentence")
    parser.add_argument("--tree", type=Path, help="also run the package found in this folder")
    parser.add_argument("--profile", type=Path, help="write py-spy raw profiles here")
    parser.add_argument(
        "--floor", action="store_true", help="also run send_floor.py (the least a client does)"
    )
    parser.add_argument(
        "--only", choices=KINDS, action="append", help="run only this client (repeatable)"
    )
    parser.add_argument(
        "--floor-variant",
        action="append",
        metavar="OPTIONS",
        help='also run send_floor.py with these options, e.g. "--text" (repeatable)',
    )
    parser.add_argument(
        "--threads", action="store_true", help="also show each client's CPU by thread"
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    only = args.only or ["seed", *(["floor"] if args.floor else []), "console", "dashboard"]
    only += [f"floor {options}" for options in args.floor_variant or []]
    figures = measure(
        args.rounds, args.quiet, args.speech, args.tree, args.profile, tuple(only), args.threads
    )
    print(section(figures, describe(args.rounds, args.quiet, args.speech)).markdown())
    if args.threads:
        print(thread_section(figures).markdown())
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
