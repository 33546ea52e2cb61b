"""Stress: the sound server dies under a running audio backend, again and again. Does the
event loop ever block on PortAudio, does the backend get its devices back, does the
process exit?

Each trial is a child process (``--child``): a ``SoundDeviceBackend`` on a private
PulseAudio server (``tests/audio/pulse.py``, the socket-path way, as the tests' recovery
cases), playing a tone in a loop. Then ``--cycles`` times: the server is killed (SIGKILL,
or SIGTERM every other cycle), the fault is awaited, a new server starts on the same socket
and the restore is awaited. Then the backend stops and the process exits as the app does
(:func:`voicelive_tui.cli.exit_process` when there is one; else ``sys.exit``, which runs
sounddevice's exit handler: ``Pa_Terminate``).

A watchdog thread in the child counts a *loop stall*: the event loop did not run its
heartbeat for ``STALL_S``; it dumps every thread's stack (faulthandler) into the child's
log once. The parent counts per trial:

* ``loop_stall``: the watchdog fired (the loop blocked; before the fix, in PortAudio's
  abort of a lost stream);
* ``no_fault`` / ``no_restore``: the loss or the return was not seen within ``WAIT_S``;
* ``exit_hang``: the child said it was done but had not exited ``EXIT_S`` later (killed);
* ``stuck``: PortAudio deadlocked (the backend says so and cannot recover), but the loop
  went on and the process exited;
* ``ok``.

Run: ``python benchmarks/server_death.py [--trials 10] [--cycles 4] [--no-shm]``
(``--no-shm``: the app's libpulse without shared memory, as for a forwarded server).
Prints one line per trial and the totals; the stacks of a trial that was not ``ok`` go to
``--keep DIR`` if given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STALL_S = 3.0
"""The loop counts as blocked when its 50 ms heartbeat has not run for this long."""
WAIT_S = 30.0
"""How long a fault or a restore may take (the stall detector alone takes 3 s)."""
EXIT_S = 15.0
"""How long the child may take to exit once it said it was done."""


def child(cycles: int, base: Path, shm: bool) -> int:
    """One trial (the child process's whole life); prints one word per event."""
    from tests.audio.pulse import start_pulse
    from tests.helpers import RecordingListener, tone
    from voicelive_tui.audio.engine import SoundDeviceBackend

    beat = [time.monotonic()]
    stalled = threading.Event()
    stacks = (base / "stacks.txt").open("w")

    def watchdog() -> None:
        while True:
            time.sleep(0.2)
            if time.monotonic() - beat[0] > STALL_S and not stalled.is_set():
                stalled.set()
                print("LOOP_STALL", flush=True)
                faulthandler.dump_traceback(stacks, all_threads=True)
                stacks.flush()

    threading.Thread(target=watchdog, name="watchdog", daemon=True).start()
    server = start_pulse("socket-path", base)
    if not shm:  # the client's side, as the app sets it up for a forwarded server
        conf = base / "client.conf"
        conf.write_text("enable-shm = no\nenable-memfd = no\n")
        os.environ["PULSE_CLIENTCONFIG"] = str(conf)
    for key in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
        os.environ.pop(key, None)
        if key in server.env:
            os.environ[key] = server.env[key]

    async def heartbeat() -> None:
        while True:
            beat[0] = time.monotonic()
            await asyncio.sleep(0.05)

    async def wait(what: str, done: object) -> bool:
        deadline = time.monotonic() + WAIT_S
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                print(what, flush=True)
                return False
            await asyncio.sleep(0.05)
        return True

    async def run() -> None:
        nonlocal server
        loop = asyncio.get_running_loop()
        beating = loop.create_task(heartbeat())
        backend = SoundDeviceBackend("pulse", "pulse")
        listener = RecordingListener()
        await backend.start(loop, listener)
        voice = tone(440, 0.5).tobytes()

        async def talk() -> None:
            n = 0
            while True:
                n += 1
                backend.play(f"item{n}", voice)
                await asyncio.sleep(0.25)
                if n % 8 == 0:
                    backend.barge_in()

        talking = loop.create_task(talk())
        try:
            for cycle in range(cycles):
                if not await wait("NO_START", lambda: backend.callbacks.calls > 10):
                    return
                faults = len(listener.faults)
                if cycle % 2:
                    server.process.terminate()
                else:
                    server.process.kill()
                server.stop()
                if not await wait("NO_FAULT", lambda n=faults: len(listener.faults) > n):
                    return
                restored = len(listener.restored)
                server = start_pulse("socket-path", base)
                if not await wait("NO_RESTORE", lambda n=restored: len(listener.restored) > n):
                    if "PortAudio is stuck" in backend.notice:  # the deadlock, survived
                        print("STUCK", flush=True)
                        native_stacks(os.getpid(), base)
                    return
                print("CYCLE", flush=True)
        finally:
            talking.cancel()
            await backend.stop()
            beating.cancel()
            server.stop()

    asyncio.run(run())
    print("DONE", flush=True)
    try:
        from voicelive_tui.cli import exit_process
    except ImportError:  # the code before the fix: sys.exit, sounddevice terminates PortAudio
        sys.exit(0)
    exit_process(0)
    return 0


def trial(cycles: int, keep: Path | None, number: int, shm: bool = True) -> str:
    """Run one child; its outcome (see the module docstring)."""
    base = Path(tempfile.mkdtemp(prefix="vltui-death-"))
    with open(os.devnull, "w") as out:  # PortAudio's own lines, thousands of them
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", "--cycles", str(cycles), "--base", str(base)]
            + ([] if shm else ["--no-shm"]),
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        words: list[str] = []
        reader = threading.Thread(
            target=lambda: words.extend(line.strip() for line in proc.stdout),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        deadline = time.monotonic() + cycles * (2 * WAIT_S + 10) + 60
        outcome = ""
        while proc.poll() is None and time.monotonic() < deadline:
            if "DONE" in words:
                try:
                    proc.wait(EXIT_S)
                except subprocess.TimeoutExpired:
                    outcome = "exit_hang"
                break
            if "LOOP_STALL" in words:
                time.sleep(2.0)  # the stacks are written
                outcome = "loop_stall"
                break
            time.sleep(0.1)
        if proc.poll() is None:
            with_stack(proc, base)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            outcome = outcome or "timeout"
        reader.join(2.0)
    for word in ("STUCK", "NO_START", "NO_FAULT", "NO_RESTORE"):
        if not outcome and word in words:
            outcome = word.lower()
    if not outcome:
        outcome = "ok" if proc.returncode == 0 else f"exit_{proc.returncode}"
    cycles_done = words.count("CYCLE")
    if keep is not None and outcome != "ok":
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(base / "stacks.txt", keep / f"trial{number}-{outcome}.txt")
    shutil.rmtree(base, ignore_errors=True)
    print(f"trial {number}: {outcome} ({cycles_done}/{cycles} cycles)", flush=True)
    return outcome


def with_stack(proc: subprocess.Popen[str], base: Path) -> None:
    """Add the stuck process's native stacks (gdb, where installed) to its stacks file."""
    native_stacks(proc.pid, base)


def native_stacks(pid: int, base: Path) -> None:
    """Add process ``pid``'s native stacks (gdb, where installed) to the stacks file."""
    if shutil.which("gdb") is None:
        return
    with (base / "stacks.txt").open("a") as out:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                stdout=out,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument(
        "--no-shm", action="store_true", help="the app's libpulse without shared memory"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.cycles, args.base, not args.no_shm)
    from tests.audio.pulse import missing_tool

    reason = missing_tool()
    if reason:
        print(f"skipped: {reason}")
        return 0
    outcomes = Counter(
        trial(args.cycles, args.keep, n + 1, not args.no_shm) for n in range(args.trials)
    )
    total = args.trials * args.cycles
    print(f"server deaths: {total} in {args.trials} processes; outcomes: {dict(outcomes)}")
    hangs = outcomes["loop_stall"] + outcomes["exit_hang"] + outcomes["timeout"]
    print(f"hangs: {hangs} of {args.trials} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
