"""UI latency from outside: key press to the first terminal output showing the new screen.

``voicelive-emulator`` runs as its own process (with ``--fault flood=N`` under load) and
``voicelive-tui --endpoint ... --api-key ...`` talks to it on a 160x48 pseudo-terminal,
text-only (no sound server), so the events panel shows the flood as a user would see
it. Under flood the agent is kept talking by typed messages (the emulator quotes a
typed message back: about 12 s of speech for 200 characters), re-sent every few seconds.
Each press: ``?`` until the help text is on screen, then ``?`` again to close it; ``/``
until the filter's placeholder is on screen, then Enter (an empty filter) to close it.
Quiet (no response, no flood) is the baseline.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from common import Mode, Section, child_env, goal, launch, percentile, ratio, tool, workdir
from term import PtyProcess

KEY = "bench-key"
LOADS = (None, 100, 500, 2000)  # flood: response.audio.delta events per second of audio
KEYS = {  # key -> (what, marker on screen once it took effect, key that closes it again)
    b"?": ("help (`?`)", "shows a Voice Live conversation", b"?"),
    b"/": ("filter (`/`)", "filter: type prefix", b"\r"),
}
# Not Esc to close: a lone ESC followed by a key read together is Alt+key to Textual,
# and a starved input thread reads them together.
TIMEOUT_S = 5.0
GOAL_MS = 50.0
MESSAGE = (  # no q: a key typed before the input has focus reaches the app's bindings
    "Please say this long message slowly: the brown fox jumps over the lazy dog while "
    "the patient old sailor counts the grey waves rolling in from the cold northern sea "
    "under a low sky"
)
MESSAGE_MARKER = "message to the agent"  # the message input's placeholder
SETTLE_S = 0.5  # after a screen change is seen, before the next key (focus lands later)
RESEND_S = 8.0  # the quoted reply lasts about 12 s


@dataclass
class Presses:
    ms: dict[bytes, list[float]] = field(default_factory=dict)
    timeouts: dict[bytes, int] = field(default_factory=dict)
    delivered: float | None = None  # response.audio.delta received per second of streaming


def delivered_rate(log_dir: Path) -> float | None:
    """Audio deltas the app received per second, over the seconds in which any came
    (from its events log): the flood the dashboard really saw."""
    per_second: Counter[int] = Counter()
    for path in log_dir.glob("*_events.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            second = int(datetime.fromisoformat(entry["time"]).timestamp())
            run = entry.get("coalesced") or {}  # a flood's deltas of one second, counted
            if run.get("type") == "response.audio.delta":
                per_second[second] += run["count"]
            elif (entry.get("event") or {}).get("type") == "response.audio.delta":
                per_second[second] += 1
    return sum(per_second.values()) / len(per_second) if per_second else None


def start_emulator(flood: int | None) -> tuple[subprocess.Popen[str], str]:
    argv = [tool("voicelive-emulator"), "--port", "0", "--api-key", KEY]
    if flood:
        argv += ["--fault", f"flood={flood}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=child_env())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.terminate()
        raise RuntimeError(f"voicelive-emulator did not start: {line!r}")
    return proc, line.split("listening on ", 1)[1].strip()


def send_message(proc: PtyProcess) -> None:
    if proc.key_to_marker(b"t", MESSAGE_MARKER, 10) is None:
        recover(proc)
        return
    time.sleep(SETTLE_S)
    proc.write(MESSAGE.encode() + b"\r")
    time.sleep(1.5)  # the reply's first audio comes 0.2 s after the speech is synthesised


def recover(proc: PtyProcess) -> None:
    """Close whatever is open (help, filter, message input): Esc, well apart from any
    other key so that it is not read as Alt+key."""
    for _ in range(2):
        time.sleep(1.0)
        proc.write(b"\x1b")
    time.sleep(1.0)


def measure(mode: Mode, flood: int | None) -> Presses:
    presses = Presses()
    emulator, endpoint = start_emulator(flood)
    try:
        with workdir() as where:
            # The agent's audio into a WAV file, played in real time as a speaker would: no
            # sound device (the benchmarks' PULSE_SERVER names none, and would exit 5).
            args = ["--endpoint", endpoint, "--api-key", KEY, "--no-greeting"]
            args += ["--output-wav", str(where / "agent.wav")]
            with launch(args, where, 160, 48, marker="● ready") as proc:
                assert proc.marker_found is not None
                if not proc.marker_found.wait(30):
                    raise RuntimeError("the dashboard did not get ready in 30 s")
                time.sleep(1.0)
                sent_at = 0.0
                for _ in range(mode.latency_presses):
                    for key, (_what, marker, close) in KEYS.items():
                        if flood and time.monotonic() - sent_at > RESEND_S:
                            send_message(proc)
                            sent_at = time.monotonic()
                        took = proc.key_to_marker(key, marker, TIMEOUT_S)
                        if took is None:
                            presses.timeouts[key] = presses.timeouts.get(key, 0) + 1
                            recover(proc)
                            continue
                        presses.ms.setdefault(key, []).append(took * 1000)
                        time.sleep(SETTLE_S)
                        proc.write(close)
                        time.sleep(SETTLE_S)
                proc.write(b"q")
                deadline = time.monotonic() + 5
                while proc.alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
            presses.delivered = delivered_rate(where / "logs")
    finally:
        emulator.terminate()
        try:
            emulator.wait(5)
        except subprocess.TimeoutExpired:
            emulator.kill()
    return presses


def run(mode: Mode) -> Section:
    section = Section(
        "latency",
        "UI latency: key to screen change, quiet and under an event flood",
        [
            "key",
            "load",
            "deltas/s seen",
            "p50 ms",
            "p99 ms",
            "max ms",
            "timeouts",
            "p99 vs quiet",
            "goal p99",
        ],  # fmt: skip
    )
    loads = (LOADS[0], LOADS[-1]) if mode.quick else LOADS  # quick: quiet and the heaviest
    results = {flood: measure(mode, flood) for flood in loads}
    quiet = results[None]
    broken: dict[str, str] = {}
    for key, (what, _marker, _close) in KEYS.items():
        base_p99 = percentile(quiet.ms.get(key, []), 99)
        for flood, presses in results.items():
            values = presses.ms.get(key, [])
            p99 = percentile(values, 99)
            timeouts = presses.timeouts.get(key, 0)
            if timeouts:
                p99 = None
            load = "quiet" if flood is None else f"flood {flood}/s"
            if (timeouts or p99 is None or p99 >= GOAL_MS) and what not in broken:
                broken[what] = load
            section.rows.append(
                [
                    what,
                    load,
                    f"{presses.delivered:.0f}" if presses.delivered else "-",
                    f"{percentile(values, 50):.0f}" if values else "-",
                    f"{p99:.0f}" if p99 is not None else f"> {TIMEOUT_S:g} s",
                    f"{max(values):.0f}" if values else "-",
                    str(timeouts),
                    ratio(p99, base_p99),
                    goal(p99, GOAL_MS, " ms")
                    + ("" if flood in (None, 500) else " (goal set at 500/s)"),
                ]
            )
    section.notes.append(
        f"`voicelive-emulator --api-key K [--fault flood=N]` + `voicelive-tui --endpoint URL "
        f"--api-key K --no-greeting --output-wav agent.wav` at 160x48; "
        f"{mode.latency_presses} presses "
        f"per key and load (p99 is the worst press below 100 presses); a press not on screen "
        f"within {TIMEOUT_S:g} s counts as a timeout. Deltas/s seen: `response.audio.delta` "
        "events the app received per second of streaming (its events log), the flood it "
        f"really had to show. Where it breaks (p99 >= {GOAL_MS:g} ms): "
        + "; ".join(
            f"{what} {'already ' if load == 'quiet' else 'from '}{load}"
            for what, load in broken.items()
        )
        + ("" if len(broken) == len(KEYS) else "; elsewhere not up to 2,000 events/s")
        + "."
    )
    return section
