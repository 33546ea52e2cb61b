"""Echo cancellation: the emulator's CPU per second of input audio, and the agent's
self-interruptions over a leaking speaker, per echo reference.

The agent's espeak-ng voice leaks into the microphone 180 ms late at -6 dB through a short
room filter, and the user talks over it for a while; the microphone goes through the
emulator's ``InputEcho`` in 40 ms appends, as the emulator's input path does: with a
client reference (stereo, channel 1 what was played) and with a server reference (the audio
as sent, on the clock). CPU is the whole process's (numpy's BLAS threads included) and the
calling thread's alone; the server reference is the baseline.

Self-interruptions (section ``echo_leak``): the app's own session on real PortAudio devices
(PulseAudio null sinks) against the emulator at real speed, the speaker's monitor looped
into the microphone sink 150 ms late at full level (``module-loopback``): the greeting and
spoken turns (the user speaks only while the agent is silent), once per round and mode:
echo cancellation off, the server's reference with a 400 ms output buffer, the client's
reference. A self-interruption is a ``speech_started`` whose speech began while the user was
silent and the agent still sounding; per minute of agent speech received. Echo cancellation
off is the baseline. Run alone: ``python benchmarks/echo.py [--leak]``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Mode, Section, speech_wav  # noqa: E402

from tests.audio.leak import LeakRun  # noqa: E402
from tests.audio.pulse import PulseServer  # noqa: E402
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


LEAK_MODES = (
    ("off (baseline)", "server", False, 0.2),
    ("server reference, 400 ms buffer", "server", True, 0.4),
    ("client reference", "client", True, 0.2),
)


async def leak_round(
    pulse: PulseServer,
    base: Path,
    label: str,
    reference: str,
    echo: bool,
    latency: float,
    turns: int,
) -> LeakRun:
    """One session over the leak (tests/audio/leak.py) with a fresh emulator."""
    import contextlib

    from tests.audio.leak import converse_over_leak
    from voicelive_tui.emulator.server import run_emulator

    async with contextlib.AsyncExitStack() as stack:

        async def emulator_factory(**kwargs):
            return await stack.enter_async_context(run_emulator(port=0, **kwargs))

        run_dir = base / label.split()[0]
        run_dir.mkdir(exist_ok=True)
        return await converse_over_leak(
            pulse,
            emulator_factory,
            run_dir,
            base / "speech.wav",
            reference=reference,
            echo_cancellation=echo,
            output_latency=latency,
            turns=turns,
        )


def run_leak(mode: Mode) -> Section:
    """Self-interruptions per minute of agent speech, per echo reference, on one leak."""
    import tempfile

    from glitch import skip_reason

    from tests.audio.pulse import PulseUnavailable, pulse_env, start_pulse

    section = Section(
        "echo_leak",
        "Echo: the agent's self-interruptions over a leaking speaker (150 ms, 0 dB)",
        [
            "echo cancellation",
            "rounds",
            "agent speech, s",
            "self-interruptions",
            "per minute of agent speech",
            "suspected by the app",
            "vs baseline",
        ],
    )
    reason = skip_reason()
    if reason:
        section.notes.append(f"Skipped: {reason}")
        return section
    rounds, turns = (1, 0) if mode.quick else (3, 2)
    base = Path(tempfile.mkdtemp(prefix="vltui-echo-"))
    try:
        pulse = start_pulse("runtime-dir", base)
    except PulseUnavailable as exc:
        section.notes.append(f"Skipped: {exc}")
        return section
    speech_wav(base / "speech.wav", 2.0)
    totals: dict[str, list[float]] = {}
    try:
        with pulse_env(pulse):
            for _ in range(rounds):
                for label, reference, echo, latency in LEAK_MODES:
                    run = asyncio.run(
                        leak_round(pulse, base, label, reference, echo, latency, turns)
                    )
                    row = totals.setdefault(label, [0, 0.0, 0, 0])
                    row[0] += 1
                    row[1] += run.agent_speech_s
                    row[2] += run.self_interruptions
                    row[3] += run.suspected
    finally:
        pulse.stop()
    base_rate = None
    for label, (n, speech_s, interrupted, suspected) in totals.items():
        rate = interrupted / (speech_s / 60) if speech_s else 0.0
        if base_rate is None:
            base_rate = rate
        section.rows.append(
            [
                label,
                f"{n:.0f}",
                f"{speech_s:.1f}",
                f"{interrupted:.0f}",
                f"{rate:.1f}",
                f"{suspected:.0f}",
                f"x{rate / base_rate:.2f}" if base_rate else "-",
            ]
        )
    section.notes.append(" ".join((__doc__ or "").split("\n\n")[2].split()))
    section.notes.append(
        f"{'Greeting only' if not turns else f'The greeting and {turns} spoken turns'} per "
        "round; agent speech is what the emulator sent (a reply cut short sends less)."
    )
    return section


def main() -> None:
    from common import MODES

    if "--leak" in sys.argv:
        print(run_leak(MODES["full"]).markdown())
    else:
        print(run(MODES["full"]).markdown())


if __name__ == "__main__":
    main()
