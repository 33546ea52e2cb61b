"""The device watch's cost: CPU of a core while it asks the host every ``WATCH_EVERY_S``.

Three figures, each a share of one core at the watch's pace (one check every
``WATCH_EVERY_S``), against the goal of < 0.5 %:

* ``decisions``: :meth:`DeviceWatch.observe` on scripted lists of 16 outputs and 16 inputs
  whose default changes now and then (pure Python, what every host pays);
* ``loop``: a whole check through :class:`DeviceFollower` (the hop to a worker thread and
  back, and the decisions) with a scripted host answering at once -- what CoreAudio's or
  winmm's few system calls add to cannot be measured here (no macOS or Windows host);
* ``pactl``: the real PulseAudio question (one ``pactl`` run, its CPU included), on a
  private server with null sinks, paid only while a sink or source chosen on the device
  screen is watched (an idle session on Linux asks nothing).

The baseline is the same loop with a host that answers nothing, in the same run.
Run: ``python benchmarks/device_watch.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import MODES, Mode, Section  # noqa: E402

from voicelive_tui.audio.device_watch import DeviceSnapshot, DeviceWatch  # noqa: E402
from voicelive_tui.audio.follower import WATCH_EVERY_S, DeviceFollower  # noqa: E402
from voicelive_tui.audio.host_devices import pulse_snapshot  # noqa: E402

GOAL_PCT = 0.5


def scripted_hosts(count: int) -> list[DeviceSnapshot]:
    """``count`` answers of a host with 16 devices each way; the default moves every 10."""
    outputs = tuple(f"Output device {i} (USB Audio)" for i in range(16))
    inputs = tuple(f"Input device {i} (USB Audio)" for i in range(16))
    return [
        DeviceSnapshot(outputs, inputs, outputs[(n // 10) % 16], inputs[(n // 10) % 16])
        for n in range(count)
    ]


def cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + kids.ru_utime + kids.ru_stime


def share(cpu_per_check_s: float) -> float:
    """Per cent of a core at one check every WATCH_EVERY_S."""
    return 100 * cpu_per_check_s / WATCH_EVERY_S


def decisions_cost(checks: int) -> float:
    hosts = scripted_hosts(checks)
    watch = DeviceWatch(follow_default=True, sticky=True)
    watch.name("input", "Input device 3")
    start = cpu_s()
    for snapshot in hosts:
        watch.observe(snapshot)
    return (cpu_s() - start) / checks


async def _loop_cost(checks: int, probe) -> float:
    async def act(decision) -> None:
        pass

    follower = DeviceFollower(DeviceWatch(follow_default=True, sticky=False), probe, act)
    await follower.check()  # the worker thread started
    start = cpu_s()
    for _ in range(checks):
        await follower.check()
    return (cpu_s() - start) / checks


def loop_cost(checks: int, probe) -> float:
    return asyncio.run(_loop_cost(checks, probe))


def pactl_cost(checks: int) -> tuple[float | None, str]:
    """CPU per real PulseAudio check, or None and why not."""
    try:
        from tests.audio.pulse import PulseUnavailable, start_pulse
    except ImportError as exc:
        return None, f"the test helpers are not importable ({exc})"
    base = Path(tempfile.mkdtemp(prefix="vl-bench-watch-"))
    try:
        server = start_pulse("socket-path", base)
    except PulseUnavailable as exc:
        shutil.rmtree(base, ignore_errors=True)
        return None, str(exc)
    try:
        env = {**os.environ, **server.env}
        if pulse_snapshot(env) is None:
            return None, "pactl gave no answer"
        start = cpu_s()
        for _ in range(checks):
            pulse_snapshot(env)
        return (cpu_s() - start) / checks, ""
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def run(mode: Mode) -> Section:
    section = Section(
        "device_watch",
        "Device watch: CPU of a core at one check every "
        f"{WATCH_EVERY_S:g} s (follow the default, a named device back)",
        ["what", "checks", "CPU per check ms", "CPU % of a core", "goal"],
    )
    checks = 200 if mode.quick else 2000
    hosts = scripted_hosts(checks + 1)
    answers = iter(hosts)
    figures = [
        ("baseline: the loop, a host answering nothing", checks, loop_cost(checks, lambda: None)),
        ("decisions (32 devices, scripted)", checks, decisions_cost(checks)),
        ("loop + decisions, scripted host", checks, loop_cost(checks, lambda: next(answers))),
    ]
    pactl_checks = 10 if mode.quick else 50
    pactl, why = pactl_cost(pactl_checks)
    if pactl is not None:
        figures.append(("pactl: a PulseAudio server (1 run)", pactl_checks, pactl))
    else:
        section.notes.append(f"pactl skipped: {why}.")
    for label, count, per_check in figures:
        pct = share(per_check)
        met = "**met**" if pct < GOAL_PCT else "**missed**"
        section.rows.append(
            [label, str(count), f"{per_check * 1000:.3f}", f"{pct:.3f}", f"< {GOAL_PCT} %: {met}"]
        )
    section.notes.append(
        "CPU includes the worker thread and, for pactl, its child processes. CoreAudio's and "
        "winmm's own questions cannot be measured here (no macOS or Windows host); they are "
        "a few system calls each. On Linux with PulseAudio the watch runs only while a "
        "chosen sink or source is watched: an idle session asks nothing (footprint unchanged)."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(run(MODES["quick" if args.quick else "full"]).markdown())


if __name__ == "__main__":
    main()
