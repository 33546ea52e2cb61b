"""Glitch test: does the agent's voice keep real time while the dashboard renders a flood?

A private PulseAudio server with two null sinks (``tests/audio/pulse.py``) stands in for
the sound card; the app opens it through PortAudio at the default block size. A separate
``voicelive-emulator`` greets with ``--fault long-reply=S`` (S seconds of espeak-ng
speech) and ``--fault flood=500`` (500 ``response.audio.delta`` events per second of
audio), paced as ``--pacing`` says: ``service`` (the default, as the service sends it: in
bursts about 2.5x faster than real time, so the app holds up to 36 s of a 60 s reply in
about 18,000 deltas) or ``realtime`` (300 ms ahead: no lead to spend, the worst case for
the app's jitter buffer). Beside the app, one busy process per core. ``parec`` records
the speaker sink's monitor: what a listener hears.

Modes: ``dashboard`` (``voicelive-tui`` in a 160x48 pseudo-terminal) and ``console``
(``--no-tui``, the baseline), same load.

The recording is compared with what the emulator sent (``speak()`` of the emulator,
deterministic), in 1 ms frames. A frame is silent when its peak is below
:data:`SILENT_PEAK`. Silent runs of the recording are matched in order to the silent
runs of the emitted speech (the pauses between words); a *gap* is a recorded silence
more than 10 ms longer than its emitted match (or unmatched and over 10 ms).
``speed_ratio`` is the recorded speech span over the emitted one: 1.00 is real time.
``underruns`` and ``overflows`` are the app's own counters, from its technical log.

Run: ``python benchmarks/glitch.py [--seconds 60] [--quick] [--mode dashboard|console]
[--pacing service|realtime]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.audio.pulse import PulseServer, PulseUnavailable, missing_tool, start_pulse  # noqa: E402
from voicelive_tui.emulator.schedule import DEFAULT_PACING, PACINGS  # noqa: E402

RATE = 24_000
FRAME = RATE // 1000
"""Samples per 1 ms analysis frame."""
SILENT_PEAK = 40
"""A 1 ms frame whose peak is below this (about -58 dBFS) is silent."""
GAP_MS = 10
FLOOD = 500
KEY = "glitch-benchmark-key"
SIZE = (160, 48)
MODES = ("dashboard", "console")


def skip_reason() -> str | None:
    """Why the glitch test cannot run here, or None when it can."""
    reason = missing_tool()
    if reason:
        return reason
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:
        return f"PortAudio not found ({exc}); apt-get install libportaudio2"
    return None


# ---------------------------------------------------------------- analysis


def silent_frames(samples: np.ndarray) -> np.ndarray:
    """One bool per whole 1 ms frame: True when the frame is silent."""
    n = samples.size // FRAME
    frames = np.abs(samples[: n * FRAME].astype(np.int32)).reshape(n, FRAME)
    return frames.max(axis=1) < SILENT_PEAK


def speech_span(silent: np.ndarray) -> tuple[int, int]:
    """(first, last + 1) loud frame; (0, 0) when all is silent."""
    loud = np.flatnonzero(~silent)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, 0)


def silent_runs(silent: np.ndarray) -> list[tuple[int, int]]:
    """Silent runs inside the speech span as (loud frames before it, length in frames)."""
    first, last = speech_span(silent)
    inner = silent[first:last].astype(np.int8)
    edges = np.diff(np.concatenate(([0], inner, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = []
    silent_before = 0
    for start, end in zip(starts, ends, strict=True):
        runs.append((int(start) - silent_before, int(end - start)))
        silent_before += int(end - start)
    return runs


def _runs(silent: np.ndarray) -> list[tuple[int, int]]:
    """Silent runs inside the speech span as (first frame, length in frames)."""
    first, last = speech_span(silent)
    inner = silent[first:last].astype(np.int8)
    edges = np.diff(np.concatenate(([0], inner, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(first + int(a), int(b - a)) for a, b in zip(starts, ends, strict=True)]


def _locate(snippet: np.ndarray, emitted: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in ``emitted[lo:hi]`` where ``snippet`` ends (best normalised match)."""
    lo, hi = max(0, lo), min(emitted.size, hi)
    region = emitted[lo:hi].astype(np.float64)
    x = snippet.astype(np.float64)
    if region.size < x.size or not x.any():
        return -1
    size = 1 << int(region.size + x.size).bit_length()
    corr = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(x, size)), size)
    corr = corr[: region.size - x.size + 1]
    cumulative = np.concatenate(([0.0], np.cumsum(region * region)))
    energy = cumulative[x.size :] - cumulative[: -x.size]
    score = corr / np.sqrt(energy + 1e-9)
    return lo + int(np.argmax(score)) + x.size


def extra_silences(emitted: np.ndarray, recorded: np.ndarray) -> list[int]:
    """Milliseconds of silence the recording adds, one entry per recorded silence > 10 ms.

    Each recorded silence is placed in the emitted speech by the audio before it (up to
    300 ms, back to the previous silence; cross-correlation, searched near where the
    previous one ended up); the extra is
    its length minus the emitted silence at that place. Content, not counts, so audio the
    device path dropped does not shift the rest.
    """
    e_silent = silent_frames(emitted)
    context = 300 * FRAME
    window = 3 * RATE // 2
    r_silent = silent_frames(recorded)
    # recorded sample index - emitted sample index; starts from the speech onsets (the
    # reply may repeat one sentence, so a search over all of it could find another copy)
    drift = (speech_span(r_silent)[0] - speech_span(e_silent)[0]) * FRAME
    extras = []
    previous_end = speech_span(r_silent)[0] * FRAME
    for start, length in _runs(r_silent):
        if length <= GAP_MS:
            continue
        end = start * FRAME
        # The audio since the previous silence: no hole inside to throw the match off.
        snippet = recorded[max(previous_end, end - context) : end]
        previous_end = (start + length) * FRAME
        if snippet.size < 60 * FRAME:
            found = end - drift  # too little speech before it to place it by content
        else:
            found = _locate(snippet, emitted, end - drift - window, end - drift + window)
        if found < 0:
            extras.append(length)
            drift += length * FRAME
            continue
        frame = found // FRAME
        have = 0
        for f in range(max(0, frame - 10), min(e_silent.size, frame + 11)):
            run = 0
            while f + run < e_silent.size and e_silent[f + run]:
                run += 1
            have = max(have, run)
        extras.append(length - have)
        drift = end - found + max(0, length - have) * FRAME
    return extras


def analyse(emitted: np.ndarray, recorded: np.ndarray) -> dict[str, float | int]:
    """Gaps, longest gap and speed ratio of ``recorded`` against ``emitted``."""
    e_first, e_last = speech_span(silent_frames(emitted))
    r_first, r_last = speech_span(silent_frames(recorded))
    extras = extra_silences(emitted, recorded)
    gaps = [x for x in extras if x > GAP_MS]
    return {
        "gaps": len(gaps),
        "longest_gap_ms": max(gaps, default=0),
        "speed_ratio": round((r_last - r_first) / max(1, e_last - e_first), 4),
        "heard_s": round((r_last - r_first) / 1000, 2),
    }


async def emitted_speech(seconds: float) -> np.ndarray:
    """What the emulator sends as its greeting with ``long-reply=seconds``."""
    from voicelive_tui.emulator.state import StoredConversation
    from voicelive_tui.emulator.wording import compose_reply, speak

    text, _ = compose_reply(StoredConversation(id="glitch"), None)
    _, pcm, _words = await speak(text, RATE, int(seconds * 1000))
    return np.frombuffer(pcm, np.int16)


# ---------------------------------------------------------------- processes


@dataclass
class Lab:
    """The private audio server, the emulator and a scratch directory."""

    base: Path
    pulse: PulseServer
    emulator: subprocess.Popen[str]
    endpoint: str

    def env(self) -> dict[str, str]:
        env = dict(self.pulse.env)
        env.pop("AZURE_VOICELIVE_ENDPOINT", None)
        env.pop("AZURE_VOICELIVE_API_KEY", None)
        return env


def start_emulator(
    env: dict[str, str], faults: tuple[str, ...], pacing: str = DEFAULT_PACING
) -> tuple[subprocess.Popen[str], str]:
    """``voicelive-emulator`` on a free loopback port, with ``faults``."""
    fault_args = [arg for fault in faults for arg in ("--fault", fault)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicelive_tui.emulator", "--port", "0", "--api-key", KEY]
        + fault_args
        + ["--pacing", pacing],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"listening on (\S+)", line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
            return proc, match.group(1)
    raise RuntimeError("the emulator did not start")


def busy_processes() -> list[subprocess.Popen[bytes]]:
    """One CPU-bound process per core."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Signal our own child and wait; kill it if it does not end."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Terminal:
    """A pseudo-terminal of SIZE running a command; its output is read and counted."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        cols, rows = SIZE
        import fcntl

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.bytes = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.bytes += len(data)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.write(self.master, b"q")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stop(self.proc)
        os.close(self.master)


def monitor_samples(path: Path) -> np.ndarray:
    data = path.read_bytes()
    return np.frombuffer(data[: len(data) // 2 * 2], np.int16)


def wait_for_speech_end(path: Path, expected_s: float, timeout: float) -> None:
    """Poll the monitor recording until the reply played out (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)  # polling a recording a separate process writes
        silent = silent_frames(monitor_samples(path))
        first, last = speech_span(silent)
        if last == 0:
            continue
        if (last - first) / 1000 >= expected_s * 0.9 and silent.size - last > 2000:
            return


def app_stats(log_dir: Path) -> dict[str, int]:
    """The audio counters the app wrote to its technical log at close."""
    counts: dict[str, int] = {}
    for log in log_dir.glob("*_voicelive.log"):
        for match in re.finditer(r"Audio stats: (.*)", log.read_text(errors="replace")):
            for key, value in re.findall(r"(\w+)=(\d+)", match.group(1)):
                counts[key] = int(value)
    return counts


def run_mode(lab: Lab, mode: str, seconds: float, emitted: np.ndarray) -> dict:
    """One measurement: the app in ``mode`` plays the long greeting under full load."""
    work = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=lab.base))
    log_dir = work / "logs"
    argv = [sys.executable, "-m", "voicelive_tui", "--endpoint", lab.endpoint]
    argv += ["--api-key", KEY, "--log-dir", str(log_dir)]
    if mode == "console":
        argv.append("--no-tui")
    raw = work / "monitor.raw"
    emitted_s = speech_span(silent_frames(emitted))
    expected_s = (emitted_s[1] - emitted_s[0]) / 1000
    busy = busy_processes()
    tap_file = raw.open("wb")
    tap = lab.pulse.popen(
        "parec",
        "--device=speaker.monitor",
        f"--rate={RATE}",
        "--channels=1",
        "--format=s16le",
        "--latency-msec=20",
        stdout=tap_file,
    )
    try:
        if mode == "dashboard":
            term = Terminal(argv, lab.env(), work)
            try:
                wait_for_speech_end(raw, expected_s, expected_s * 4 + 30)
            finally:
                term.close()
        else:
            out = (work / "console.out").open("wb")
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=lab.env())
            try:
                wait_for_speech_end(raw, expected_s, expected_s * 4 + 30)
            finally:
                stop(proc, signal.SIGINT)
                out.close()
    finally:
        for p in busy:
            stop(p, signal.SIGKILL)
        stop(tap)
        tap_file.close()
    result = analyse(emitted, monitor_samples(raw))
    stats = app_stats(log_dir)
    return {
        "mode": mode,
        "seconds": round(expected_s, 1),
        "gaps": result["gaps"],
        "longest_gap_ms": result["longest_gap_ms"],
        "speed_ratio": result["speed_ratio"],
        "underruns": stats.get("underruns", -1),
        "overflows": stats.get("overflows", -1),
    }


def measure(
    seconds: float = 60.0,
    modes: tuple[str, ...] = MODES,
    keep: Path | None = None,
    pacing: str = DEFAULT_PACING,
) -> list[dict]:
    """Run the glitch test in each mode; one dict per mode (see the module docstring).

    Raises RuntimeError with skip_reason() when it cannot run here.
    """
    faults = (f"flood={FLOOD}", f"long-reply={max(1, round(seconds))}")
    with audio_lab("vltui-glitch-", faults, keep, pacing) as lab:
        emitted = asyncio.run(emitted_speech(seconds))
        rows = [run_mode(lab, mode, seconds, emitted) for mode in modes]
        return [{**row, "pacing": pacing} for row in rows]


@contextmanager
def audio_lab(
    prefix: str, faults: tuple[str, ...], keep: Path | None = None, pacing: str = DEFAULT_PACING
) -> Iterator[Lab]:
    """A private PulseAudio server with its null sinks and an emulator with ``faults`` and
    ``pacing``, in a scratch folder (copied to ``keep`` at the end when given).

    Raises RuntimeError with skip_reason() when it cannot run here.
    """
    reason = skip_reason()
    if reason:
        raise RuntimeError(reason)
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        try:
            pulse = start_pulse("runtime-dir", base)
        except PulseUnavailable as exc:
            raise RuntimeError(str(exc)) from None
        emulator = None
        try:
            emulator, endpoint = start_emulator(pulse.env, faults, pacing)
            yield Lab(base, pulse, emulator, endpoint)
        finally:
            if emulator is not None:
                stop(emulator)
            pulse.stop()
    finally:
        if keep is not None:
            shutil.copytree(base, keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.sock"))
        shutil.rmtree(base, ignore_errors=True)


def table(rows: list[dict]) -> str:
    """A Markdown table of measure()'s rows, with the goals."""
    lines = [
        "| mode | pacing | speech s | gaps > 10 ms | longest gap ms | speed ratio | underruns"
        " | overflows |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['pacing']} | {r['seconds']:.1f} | {r['gaps']} |"
            f" {r['longest_gap_ms']} |"
            f" {r['speed_ratio']:.3f} | {r['underruns']} | {r['overflows']} |"
        )
    lines.append("")
    lines.append("Goal: 0 gaps, speed ratio 1.00 +/- 0.01, in both modes.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="speech length (default 60)")
    parser.add_argument("--quick", action="store_true", help="20 s of speech")
    parser.add_argument("--mode", choices=MODES, action="append", help="only this mode")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep recordings and logs here")
    parser.add_argument(
        "--pacing",
        choices=PACINGS,
        default=DEFAULT_PACING,
        help=f"the emulator's pacing (default {DEFAULT_PACING})",
    )
    args = parser.parse_args(argv)
    reason = skip_reason()
    if reason:
        print(f"glitch test skipped: {reason}", file=sys.stderr)
        return 0
    seconds = 20.0 if args.quick else args.seconds
    rows = measure(seconds, tuple(args.mode or MODES), args.keep, args.pacing)
    print(f"{os.cpu_count()} cores, {os.cpu_count()} busy processes, flood={FLOOD}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
