"""Turn taking: the end-of-speech wait per turn detector setting, on the emulator.

Each setting is one console run (``--demo --no-tui --no-greeting --input-wav``, a short
spoken question at real time, ``--exit-after-turns 1``) whose ``--summary-json`` gives the
voice turn's ``end-of-speech wait``: from the end of the user's speech on the capture clock
to ``input_audio_buffer.speech_stopped``. The baseline is server VAD's default (500 ms of
silence) in the same run. What each detector does is in the README's "Turn taking" section.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import Mode, Section, child_env, median, ratio, spread, tool, workdir

QUESTION = "What can you tell me about the weather today?"
SETTINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("server_vad, silence 500 ms (default)", ()),
    ("server_vad, silence 1000 ms", ("--vad-silence-ms", "1000")),
    ("server_vad + EOU low", ("--eou", "low")),
    ("server_vad + EOU medium", ("--eou", "medium")),
    ("server_vad + EOU high", ("--eou", "high")),
    ("server_vad + EOU high, timeout 600 ms", ("--eou", "high", "--eou-timeout-ms", "600")),
    ("azure_semantic_vad, silence 500 ms", ("--turn-detection", "azure_semantic_vad")),
    (
        "azure_semantic_vad, silence 1000 ms",
        ("--turn-detection", "azure_semantic_vad", "--vad-silence-ms", "1000"),
    ),
    (
        "azure_semantic_vad_en + EOU high",
        ("--turn-detection", "azure_semantic_vad_en", "--eou", "high"),
    ),
)
TIMEOUT_S = 60


def question_wav(path: Path) -> Path:
    """The question (espeak-ng), with 0.5 s of silence before and 3 s after."""
    from voicelive_tui.emulator.speech import synthesize

    pcm = asyncio.run(synthesize(QUESTION, 24000))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24000)
        out.writeframes(bytes(24000) + pcm + bytes(6 * 24000))
    return path


def wait_ms(args: tuple[str, ...], wav: Path, where: Path) -> float | None:
    """One run's end-of-speech wait (None: no complete voice turn)."""
    summary = where / "summary.json"
    argv = [tool("voicelive-tui"), "--demo", "--no-tui", "--no-greeting", "--input-wav", str(wav)]
    argv += ["--exit-after-turns", "1", "--summary-json", str(summary)]
    argv += ["--log-dir", str(where / "logs"), *args]
    subprocess.run(argv, env=child_env(), cwd=where, timeout=TIMEOUT_S, capture_output=True)
    if not summary.exists():
        return None
    turns = [t for t in json.loads(summary.read_text())["turns"] if t["kind"] == "voice"]
    stages = turns[0]["stages"] if turns else {}
    value = stages.get("end-of-speech wait")
    return float(value) if value is not None else None


def run(mode: Mode) -> Section:
    section = Section(
        "turn_waits",
        "Turn taking: end-of-speech wait per detector setting (emulator)",
        ["setting", "wait ms (min / med / max)", "baseline: server_vad 500 ms", "ratio"],
    )
    runs = 1 if mode.quick else 3
    settings = SETTINGS[:2] if mode.quick else SETTINGS
    figures: dict[str, list[float]] = {}
    with workdir() as where:
        wav = question_wav(where / "question.wav")
        jobs = [
            (label, args, where / f"run{n}-{i}") for n in range(runs)
            for i, (label, args) in enumerate(settings)
        ]  # fmt: skip
        for _label, _args, folder in jobs:
            folder.mkdir()
        # Quick: the settings' runs side by side (each is mostly waiting on real time: the
        # question, the reply), so the pass takes one run's time; the full run, one by one.
        with ThreadPoolExecutor(len(jobs) if mode.quick else 1) as pool:
            values = list(pool.map(lambda job: wait_ms(job[1], wav, job[2]), jobs))
        for (label, _args, _folder), value in zip(jobs, values, strict=True):
            if value is not None:
                figures.setdefault(label, []).append(value)
    base = figures.get(SETTINGS[0][0], [])
    for label, _args in settings:
        values = figures.get(label, [])
        section.rows.append(
            [
                label,
                spread(values, "{:.0f}"),
                spread(base, "{:.0f}"),
                ratio(median(values), median(base)),
            ]
        )
    section.notes.append(
        "From the end of the speech on the capture clock to `speech_stopped`, as "
        "`--summary-json` reports it; the semantic types include the emulator recognising "
        "the words (pocketsphinx) before it decides."
    )
    return section


if __name__ == "__main__":
    from common import MODES

    print(run(MODES["full"]).markdown())
