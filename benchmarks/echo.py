"""Echo cancellation of the emulator: CPU per second of input audio.

The agent's espeak-ng voice leaks into the microphone 180 ms late at -6 dB through a short
room filter, and the user talks over it for a while; the microphone goes through the
emulator's ``InputEcho`` in 40 ms appends, as the emulator's input path does: with a
client reference (stereo, channel 1 what was played) and with a server reference (the audio
as sent, on the clock). CPU is the whole process's (numpy's BLAS threads included) and the
calling thread's alone; the server reference is the baseline. Run alone:
``python benchmarks/echo.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Mode, Section  # noqa: E402

from voicelive_tui.emulator.echo import InputEcho  # noqa: E402
from voicelive_tui.emulator.wording import speak  # noqa: E402

RATE = 24000
BLOCK = 960  # 40 ms
DELAY = RATE * 180 // 1000


def leak(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(microphone, what the speaker played), float PCM16 scale."""
    _text, pcm, _words = asyncio.run(
        speak("Hello! This is the local Voice Live emulator.", RATE, int(seconds * 1000))
    )
    agent = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    _text, said, _words = asyncio.run(speak("Sorry, stop.", RATE))
    user = np.frombuffer(said, dtype="<i2").astype(np.float32)
    played = np.zeros(len(agent) + RATE, dtype=np.float32)
    played[: len(agent)] = agent
    mic = np.zeros_like(played)
    mic[DELAY : DELAY + len(agent)] = 0.5 * agent
    mic = np.convolve(mic, [0.6, 0.3, 0.1])[: len(mic)].astype(np.float32)
    at = len(mic) // 2
    mic[at : at + len(user)] += 0.8 * user[: len(mic) - at]
    return mic, played


def measure(source: str, mic: np.ndarray, played: np.ndarray) -> dict[str, float]:
    echo = InputEcho()
    channels = 2 if source == "client" else 1
    ec = {"reference_source": source, "channels": channels}
    echo.configure({"input_audio_echo_cancellation": ec})
    pcm16 = lambda x: np.clip(x, -32768, 32767).astype("<i2")  # noqa: E731
    if source == "client":
        appends = np.stack([pcm16(mic), pcm16(played)], axis=1).tobytes()
    else:
        appends = pcm16(mic).tobytes()
    step = BLOCK * 2 * channels
    start, thread = time.process_time(), time.thread_time()
    for i in range(0, len(appends) - step + 1, step):
        now = 100.0 + (i // step + 1) * BLOCK / RATE
        if source == "server" and i // step * BLOCK < len(played):
            block = played[i // step * BLOCK : (i // step + 1) * BLOCK]
            echo.sent(pcm16(block).tobytes(), RATE, now - BLOCK / RATE)
        echo.microphone(appends[i : i + step], now)
    audio_s = len(mic) / RATE
    return {
        "process": (time.process_time() - start) / audio_s * 1000,
        "thread": (time.thread_time() - thread) / audio_s * 1000,
        "audio_s": audio_s,
    }


def run(mode: Mode) -> Section:
    section = Section(
        "echo",
        "Echo cancellation (emulator): CPU per second of input audio",
        ["reference", "CPU ms / s of audio (process)", "of which this thread", "vs baseline"],
    )
    mic, played = leak(8.0 if mode.quick else 30.0)
    rows = {source: measure(source, mic, played) for source in ("server", "client")}
    base = rows["server"]
    for source, r in rows.items():
        label = "server (baseline)" if source == "server" else "client, 2 channels"
        section.rows.append(
            [
                f"{label}, {r['audio_s']:.0f} s",
                f"{r['process']:.1f}",
                f"{r['thread']:.1f}",
                f"x{r['process'] / base['process']:.2f}",
            ]
        )
    section.notes.append(" ".join((__doc__ or "").split("\n\n")[1].split()))
    return section


def main() -> None:
    from common import MODES

    print(run(MODES["full"]).markdown())


if __name__ == "__main__":
    main()
