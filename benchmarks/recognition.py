"""Speech recognition of the emulator: word error rate, real-time factor and CPU.

Sentences spoken by espeak-ng (``-v en-us -s 140``, a natural rate, and the default 175
words/min) go through the emulator's own recogniser worker (``recogniser_worker.py``,
pocketsphinx) the way a committed turn does: 24 kHz PCM16 with the VAD's 300 ms of
prefix padding before and 500 ms of silence after, decoded in one pass. The baseline row
decodes the same turns without the noise floor the worker now adds (what it did before);
another row adds the keyphrases of a weather and a time tool (``get_current_weather``,
``get_current_time``, names and descriptions), to show what the bias adds or costs. The
streamed row feeds each turn in 300 ms steps as the user speaks it, as a streaming
transcription does: the words given out as deltas before the turn ends (``SettledWords``),
how many of them the whole decode kept, and how far into the speech the first came.
The first ten sentences were the benchmark's before the noise floor; the last ten were
added with it (its level was chosen on both sets).

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
from voicelive_tui.emulator.recognition import SettledWords, bias_phrases  # noqa: E402
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
    "What time is it?",
    "Set an alarm for seven in the morning.",
    "Play some music in the living room.",
    "How far is it to the airport?",
    "Send a message to my mother.",
    "What is the capital of France?",
    "Remind me to buy milk after work.",
    "Is it going to rain this weekend?",
    "Call the office and say I am late.",
    "Ask a question about the Azure SDK repository.",
)
TOOLS_SESSION = {
    "tools": [
        {
            "type": "function",
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
        },
        {"type": "function", "name": "get_current_time", "description": "Get the current time"},
    ]
}
RATE = 24000
PREFIX_MS, SILENCE_MS = 300, 500
STEP = RATE * 2 * 300 // 1000


def speak(text: str, words_per_min: int) -> bytes:
    """espeak-ng's en-us voice saying ``text``, as 24 kHz mono PCM16."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(words_per_min), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    before, after = RATE * 2 * PREFIX_MS // 1000, RATE * 2 * SILENCE_MS // 1000
    return bytes(before) + resample_pcm16(pcm, rate, RATE) + bytes(after)


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


def streamed(worker: worker_module.Worker, pcm: bytes) -> tuple[list[str], int | None, float]:
    """(words given out as deltas before the turn ended, ms of speech before the first,
    CPU s) feeding the turn in 300 ms steps as the emulator does."""
    started = time.process_time()
    settled, given, first = SettledWords(), [], None
    for at in range(0, len(pcm), STEP):
        out = io.BytesIO()
        worker.step("bench", pcm[at : at + STEP], RATE, out)
        answer = json.loads(out.getvalue())
        new = settled.settle([(w, e) for w, e in answer["partial"]], answer["heard_ms"])
        if new and first is None:
            first = answer["heard_ms"] - PREFIX_MS
        given += new
    worker.close("bench")
    return given, first, time.process_time() - started


def measure(
    rates: tuple[int, ...] = (140, 175), sentences: tuple[str, ...] = SENTENCES
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    keyphrases = bias_phrases(TOOLS_SESSION)
    for wpm in rates:
        audio = [speak(s, wpm) for s in sentences]
        seconds = sum(len(a) for a in audio) / (2 * RATE)
        finals: list[str] = []
        for label, kind in (("one pass, no noise floor (before)", "before"),
                            ("one pass (emulator)", "pass"), ("one pass + tool words", "bias"),
                            ("streamed in 300 ms steps", "stream")):  # fmt: skip
            worker = worker_module.Worker()
            floor, worker_module.FLOOR_SNR_DB = (
                worker_module.FLOOR_SNR_DB,
                (float("inf") if kind == "before" else worker_module.FLOOR_SNR_DB),
            )
            errors = total = kept = given_n = 0
            cpu = 0.0
            samples, firsts = [], []
            try:
                for i, (sentence, pcm) in enumerate(zip(sentences, audio, strict=True)):
                    ref = words(sentence)
                    if kind == "stream":
                        given, first, spent = streamed(worker, pcm)
                        final = words(finals[i])
                        kept += sum(1 for a, b in zip(given, final, strict=False) if a == b)
                        given_n += len(given)
                        firsts += [first] if first is not None else []
                        text = " ".join(given)
                    else:
                        text, spent = emulated(worker, pcm, keyphrases if kind == "bias" else [])
                        if kind == "pass":
                            finals.append(text)
                    errors += edit_distance(ref, words(text))
                    total += len(ref)
                    cpu += spent
                    samples.append(text)
            finally:
                worker_module.FLOOR_SNR_DB = floor
            row: dict[str, object] = {
                "rate": wpm,
                "how": label,
                "wer": errors / total,
                "rtf": cpu / seconds,
                "audio_s": seconds,
                "samples": samples,
            }
            if kind == "stream":
                row["kept"] = kept / max(given_n, 1)
                row["given"] = given_n / total
                row["first_ms"] = sorted(firsts)[len(firsts) // 2] if firsts else None
                row["with_first"] = len(firsts)
            rows.append(row)
    return rows


def run(mode: Mode) -> Section:
    section = Section(
        "recognition",
        "Speech recognition (emulator): word error rate, real-time factor, CPU",
        ["espeak-ng voice", "decoding", "WER", "real-time factor (CPU s / audio s)", "vs baseline"],
    )
    # Quick: the first four sentences at one rate (indicative; a tenth of the time).
    sentences = SENTENCES[:4] if mode.quick else SENTENCES
    rows = measure((140,) if mode.quick else (140, 175), sentences)
    base = {r["rate"]: r for r in rows if str(r["how"]).endswith("(before)")}
    for r in rows:
        b = base[r["rate"]]
        wer, rtf = float(r["wer"]), float(r["rtf"])  # type: ignore[arg-type]
        b_wer, b_rtf = float(b["wer"]), float(b["rtf"])  # type: ignore[arg-type]
        how = str(r["how"])
        if "kept" in r:
            how += (
                f": {float(r['given']):.0%} of the words given out before the turn ended,"  # type: ignore[arg-type]
                f" {float(r['kept']):.0%} of them kept by the whole decode; the first"  # type: ignore[arg-type]
                f" {r['first_ms']} ms into the speech (median, {r['with_first']} of"
                f" {len(sentences)} turns had one); WER of the words given out alone"
            )
        section.rows.append(
            [
                f"en-us, {r['rate']} words/min ({r['audio_s']:.1f} s of turns)",
                how,
                f"{wer:.0%}",
                f"{rtf:.3f}",
                f"WER {wer - b_wer:+.0%}, time x{rtf / b_rtf:.2f}",
            ]
        )
    section.notes.append(" ".join((__doc__ or "").split("\n\n")[1].split()))
    for label in ("one pass, no noise floor (before)", "one pass (emulator)"):
        first = next(r for r in rows if r["how"] == label)
        heard = "; ".join(
            f'"{s}" -> "{h}"'
            for s, h in zip(sentences, first["samples"], strict=True)  # type: ignore[call-overload]
        )
        section.notes.append(f"{label}, at {first['rate']} words/min: {heard}.")
    return section


def main() -> None:
    from common import MODES

    print(run(MODES["full"]).markdown())


if __name__ == "__main__":
    main()
