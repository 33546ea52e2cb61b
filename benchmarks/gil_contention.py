"""Does a busy Python thread in the same process starve the audio callback?

The question behind "run the audio engine in its own process": with the output buffer
sized for robustness, are device underflows caused by the UI's share of the GIL, or by
the CPU alone? A PulseAudio null sink (``tests/audio/pulse.py``) plays through a real
PortAudio output stream at 20 ms blocks for ``--seconds``, with one busy process per
core, and a Python workload (string and dict churn, like rendering) that runs

* ``none``: nowhere (the CPU load only),
* ``thread``: in a thread of the audio process (shares its GIL: today's design),
* ``process``: in a separate process (what an audio process would give the callback).

Printed per case: PortAudio output underflows, and the callback interval (p99, max).
Run: ``python benchmarks/gil_contention.py [--seconds 30] [--latency-ms 200]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.audio.pulse import PulseUnavailable, start_pulse  # noqa: E402

RATE = 24_000
BLOCK = 480


def churn(stop: threading.Event | None = None, seconds: float = 1e9) -> None:
    """Pure-Python work that holds the GIL in short steps, like a UI repainting."""
    end = time.monotonic() + seconds
    rows: dict[int, str] = {}
    i = 0
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        rows[i % 500] = " ".join(str(j * i) for j in range(40))
        i += 1


def run_case(where: str, seconds: float, latency: float) -> dict[str, float]:
    import sounddevice as sd

    stamps = np.zeros(int(seconds * RATE / BLOCK * 2) + 100)
    state = {"n": 0, "underflows": 0}

    def callback(outdata, frames, info, status) -> None:
        if status.output_underflow:
            state["underflows"] += 1
        n = state["n"]
        if n < stamps.size:
            stamps[n] = time.monotonic()
        state["n"] = n + 1
        outdata[:] = 0

    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    stop = threading.Event()
    worker: threading.Thread | multiprocessing.Process | None = None
    if where == "thread":
        worker = threading.Thread(target=churn, args=(stop,), daemon=True)
    elif where == "process":
        worker = multiprocessing.get_context("spawn").Process(target=churn, args=(None, seconds))
    try:
        with sd.OutputStream(
            device="pulse",
            samplerate=RATE,
            channels=1,
            dtype="int16",
            blocksize=BLOCK,
            latency=latency,
            callback=callback,
        ):
            time.sleep(1.0)  # PulseAudio's start-up burst is not what is measured
            state["underflows"] = 0
            first = state["n"]
            if worker is not None:
                worker.start()
            time.sleep(seconds)
            last = state["n"]
    finally:
        stop.set()
        if isinstance(worker, multiprocessing.Process):
            worker.terminate()
            worker.join()
        for p in busy:
            p.kill()
            p.wait()
    gaps = np.diff(stamps[first : min(last, stamps.size)]) * 1000
    return {
        "underflows": state["underflows"],
        "p99_ms": float(np.percentile(gaps, 99)) if gaps.size else 0.0,
        "max_ms": float(gaps.max()) if gaps.size else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="vltui-gil-"))
    try:
        try:
            pulse = start_pulse("runtime-dir", base)
        except PulseUnavailable as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            return 0
        try:
            for key in ("XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
                os.environ[key] = pulse.env[key]
            print(f"{os.cpu_count()} cores busy; output buffer {args.latency_ms:g} ms")
            print("| Python workload | device underflows | callback interval p99 ms | max ms |")
            print("|---|---:|---:|---:|")
            for where in ("none", "thread", "process"):
                r = run_case(where, args.seconds, args.latency_ms / 1000)
                print(
                    f"| {where} | {r['underflows']} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} |",
                    flush=True,
                )
        finally:
            pulse.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
