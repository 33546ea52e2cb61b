"""Speech recognition of the emulator: word error rate, real-time factor and CPU.

Sentences spoken by espeak-ng (``-v en-us -s 140``, a natural rate, and the default 175
words/min) go through the emulator's own recogniser worker (``recogniser_worker.py``,
pocketsphinx) the way a committed turn does: 24 kHz PCM16 decoded in one pass. The
baseline row decodes in 300 ms steps with partial results (what streaming words while the
turn decodes would give: the emulator does not, for this row's errors). Another row adds
the keyphrases of a weather and a time tool (``get_weather``, ``get_current_time``), to
show what the bias adds or costs.

Real-time factor is decode seconds / audio seconds (CPU seconds of the worker process);
lower is faster. Run alone: ``python benchmarks/recognition.py``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Mode, Section  # noqa: E402

from voicelive_tui.emulator import recogniser_worker as worker_module  # noqa: E402
from voicelive_tui.emulator.recognition import bias_phrases  # noqa: E402
from voicelive_tui.emulator.speech import resample_pcm16  # noqa: E402

SENTENCES = (
    "Hello, what can you do?",
    "What's the weather in Seattle?",
    "What time is it in London?",
    "Please tell me a long story about the sea and the ships on it.",
    "Sorry, stop. That is enough, thank you.",
    "Hello there. What can you do for me?",
    "Can you book a table for two people tonight?",
    "Turn off the lights in the kitchen.",
    "How cold will it be tomorrow morning?",
    "Read me the news about the football game.",
)
TOOLS_SESSION = {
    "tools": [
        {"type": "function", "name": "get_weather"},
        {"type": "function", "name": "get_current_time"},
    ]
}
RATE = 24000


def speak(text: str, words_per_min: int) -> bytes:
    """espeak-ng's en-us voice saying ``text``, as 24 kHz mono PCM16."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(words_per_min), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    return resample_pcm16(pcm, rate, RATE)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("what's", "what is"))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        prev, row[0] = row[:], i
        for j, b in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a != b))
    return row[-1]


def emulated(worker: worker_module.Worker, pcm: bytes, keyphrases: list[str]) -> tuple[str, float]:
    """(transcript, CPU s) of one turn as the emulator decodes it."""
    out = io.BytesIO()
    worker.decode(pcm, RATE, keyphrases, out)
    final = json.loads(out.getvalue().splitlines()[-1])
    return str(final["final"]), float(final["cpu_s"])


def stepped(worker: worker_module.Worker, pcm: bytes) -> tuple[str, float]:
    """(transcript, CPU s) decoding in 300 ms steps, as a streaming recogniser would."""
    started = time.process_time()
    audio = worker._resample(pcm, RATE)
    d, step = worker.decoder, worker_module.RATE * 2 * 300 // 1000
    d.start_utt()
    for at in range(0, len(audio), step):
        d.process_raw(audio[at : at + step])
    d.end_utt()
    hyp = d.hyp()
    return (hyp.hypstr if hyp is not None else ""), time.process_time() - started


def measure(rates: tuple[int, ...] = (140, 175)) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    keyphrases = bias_phrases(TOOLS_SESSION)
    for wpm in rates:
        audio = [speak(s, wpm) for s in SENTENCES]
        seconds = sum(len(a) for a in audio) / (2 * RATE)
        for label, kind in (("one pass (emulator)", "pass"), ("one pass + tool words", "bias"),
                            ("300 ms steps (baseline)", "steps")):  # fmt: skip
            worker = worker_module.Worker()
            errors = total = 0
            cpu = 0.0
            samples = []
            for sentence, pcm in zip(SENTENCES, audio, strict=True):
                if kind == "steps":
                    text, spent = stepped(worker, pcm)
                else:
                    text, spent = emulated(worker, pcm, keyphrases if kind == "bias" else [])
                ref = words(sentence)
                errors += edit_distance(ref, words(text))
                total += len(ref)
                cpu += spent
                samples.append(text)
            rows.append(
                {
                    "rate": wpm,
                    "how": label,
                    "wer": errors / total,
                    "rtf": cpu / seconds,
                    "audio_s": seconds,
                    "samples": samples,
                }
            )
    return rows


def run(mode: Mode) -> Section:
    section = Section(
        "recognition",
        "Speech recognition (emulator): word error rate, real-time factor, CPU",
        ["espeak-ng voice", "decoding", "WER", "real-time factor (CPU s / audio s)", "vs baseline"],
    )
    rows = measure((140,) if mode.quick else (140, 175))
    base = {r["rate"]: r for r in rows if r["how"] == "300 ms steps (baseline)"}
    for r in rows:
        b = base[r["rate"]]
        wer, rtf = float(r["wer"]), float(r["rtf"])  # type: ignore[arg-type]
        b_wer, b_rtf = float(b["wer"]), float(b["rtf"])  # type: ignore[arg-type]
        section.rows.append(
            [
                f"en-us, {r['rate']} words/min ({r['audio_s']:.1f} s of speech)",
                str(r["how"]),
                f"{wer:.0%}",
                f"{rtf:.3f}",
                f"WER {wer - b_wer:+.0%}, time x{rtf / b_rtf:.2f}",
            ]
        )
    section.notes.append(" ".join((__doc__ or "").split("\n\n")[1].split()))
    first = next(r for r in rows if r["how"] == "one pass (emulator)")
    heard = "; ".join(f'"{s}" -> "{h}"' for s, h in zip(SENTENCES, first["samples"], strict=True))  # type: ignore[arg-type]
    section.notes.append(f"What the emulator heard at {first['rate']} words/min: {heard}.")
    return section


def main() -> None:
    from common import MODES

    print(run(MODES["full"]).markdown())


if __name__ == "__main__":
    main()
