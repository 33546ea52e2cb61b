"""First sound of a reply: a running output stream against a paused one (issue 26).

With nothing to play the sound-device backend pauses its output stream
(``engine.IDLE_PAUSE_S``) and starts it again when a reply is queued. This measures what
that does to the first word: on a private PulseAudio server with null sinks, a backend
is started, left idle for 3 s, then given a 1 s tone as a burst of seven deltas; the
speaker sink's monitor is recorded by ``parec`` the whole time, and the tone's onset
is found in it. Each round runs the backend twice, alternating: with the pause (as
shipped) and with the stream kept running (``IDLE_PAUSE_S`` set beyond the run). One
recording holds every case, so its own latency is a constant offset: the difference
between the two modes is what the pause changes. The backend's own first-sample time
(``on_playback_started``, what the latency stages show) is printed beside it.

Run: ``python benchmarks/first_sound.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.audio.pulse import pulse_env, start_pulse  # noqa: E402
from tests.helpers import tone  # noqa: E402
from voicelive_tui.audio import engine  # noqa: E402

MODES = ("running", "paused")
IDLE_S = 3.0
ONSET_FRAME = 48
"""2 ms analysis frames of the monitor recording."""


class Listener:
    def __init__(self) -> None:
        self.started: list[float] = []

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        self.started.append(monotonic_time)

    def on_audio_fault(self, message: str) -> None:
        print(f"audio fault: {message}", file=sys.stderr)

    def on_audio_restored(self, message: str) -> None:
        pass


async def one_reply(mode: str, item: str) -> tuple[float, float | None]:
    """(wall time of the first delta, the backend's first-sample time after it in ms)."""
    engine.IDLE_PAUSE_S = 1.0 if mode == "paused" else 1e9
    backend = engine.SoundDeviceBackend("pulse", "pulse")
    listener = Listener()
    await backend.start(asyncio.get_running_loop(), listener)
    try:
        await asyncio.sleep(IDLE_S)
        if backend.output_paused != (mode == "paused"):
            raise RuntimeError(f"{mode}: output_paused is {backend.output_paused}")
        wall, mono = time.time(), time.monotonic()
        for chunk in np.array_split(tone(1000, 1.0, phase=0.3), 7):
            backend.play(item, chunk.tobytes())
        await asyncio.sleep(2.0)
        stamp = (listener.started[0] - mono) * 1000 if listener.started else None
        return wall, stamp
    finally:
        await backend.stop()


def onsets(raw: Path, end_wall: float) -> np.ndarray:
    """Wall times of the tone's onsets in the recording (anchored by its end)."""
    x = np.fromfile(raw, dtype=np.int16).astype(float)
    frames = x[: x.size // ONSET_FRAME * ONSET_FRAME].reshape(-1, ONSET_FRAME)
    loud = np.sqrt((frames**2).mean(axis=1)) > 2000
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    return end_wall - (x.size - starts * ONSET_FRAME) / engine.SAMPLE_RATE


async def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    base = Path(tempfile.mkdtemp(prefix="first-sound-"))
    server = start_pulse("runtime-dir", base)
    raw = base / "monitor.raw"
    marks: list[tuple[str, float, float | None]] = []
    try:
        with pulse_env(server), raw.open("wb") as out:
            recorder = server.popen(
                "parec", "--device=speaker.monitor", f"--rate={engine.SAMPLE_RATE}",
                "--channels=1", "--format=s16le", "--latency-msec=10", stdout=out,
            )  # fmt: skip
            await asyncio.sleep(1.0)
            for n in range(rounds):
                for mode in MODES if n % 2 == 0 else MODES[::-1]:
                    wall, stamp = await one_reply(mode, f"reply-{n}-{mode}")
                    marks.append((mode, wall, stamp))
                    await asyncio.sleep(0.5)
            recorder.terminate()
            recorder.wait(timeout=10)
            end_wall = time.time()
        heard = onsets(raw, end_wall)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    figures: dict[str, dict[str, list[float]]] = {m: {"heard": [], "stamp": []} for m in MODES}
    for mode, wall, stamp in marks:
        after = heard[heard > wall - 0.05]
        if after.size:
            figures[mode]["heard"].append((after[0] - wall) * 1000)
        if stamp is not None:
            figures[mode]["stamp"].append(stamp)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="first_sound.py", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.rounds))
    print("| output stream | heard on the monitor after the first delta, ms (median) |"
          " the backend's first-sample time, ms (median) |")  # fmt: skip
    print("|---|---|---|")
    for mode in MODES:
        heard, stamp = figures[mode]["heard"], figures[mode]["stamp"]
        print(
            f"| {mode} | {statistics.median(heard):.0f} ({', '.join(f'{v:.0f}' for v in heard)})"
            f" | {statistics.median(stamp):.0f} ({', '.join(f'{v:.0f}' for v in stamp)}) |"
        )
    gain = statistics.median(figures["running"]["heard"]) - statistics.median(
        figures["paused"]["heard"]
    )
    print(f"\nThe paused stream's reply is heard {gain:.0f} ms sooner (same recording; its"
          " own latency is a common offset).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
