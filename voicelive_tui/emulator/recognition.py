"""Offline speech recognition of committed turns: pocketsphinx in a worker process.

One :class:`Recogniser` per emulator starts ``recogniser_worker`` the first time VAD hears
speech start (or a turn is committed by hand) and feeds it the committed turns one at a
time. The event loop only writes the turn to a pipe and reads JSON lines back, so
recognition never delays audio events.

What biases recognition (also in the README's emulator section): the session's
``input_audio_transcription.phrase_list`` and the words of its tools' names (a function's
``get_current_time`` -> "current time", "time"; ``tool_words``), spotted as keyphrases over
the turn; a phrase found replaces the words the language model heard at its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.voicelive import models as m

__all__ = [
    "Heard",
    "HeardWord",
    "RecognitionError",
    "Recogniser",
    "bias_phrases",
    "language_warning",
    "tool_words",
    "transcript_logprobs",
    "transcript_phrase",
]

WORKER = Path(__file__).with_name("recogniser_worker.py")
START_TIMEOUT_S = 30.0
TURN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 0.3
"""The worker ends at once when its input closes, unless mid-turn: then it is terminated
(a quit never waits for a decode)."""
GENERIC_WORDS = frozenset(
    "get set list fetch find lookup look up search query check call run do make create read"
    " show tell give return returns the a an of for to by in on at and or is my me".split()
)
"""Words of a tool's name that say nothing of its purpose (``get_weather`` -> "weather")."""


@dataclass(frozen=True)
class HeardWord:
    text: str
    start_ms: int
    duration_ms: int
    prob: float
    """The recogniser's posterior probability of the word (0..1)."""


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of one turn."""

    text: str
    words: tuple[HeardWord, ...]
    cpu_s: float


def transcript_logprobs(heard: Heard) -> list[m.LogProbProperties]:
    """One entry per word of the transcript (with its leading space), as ``include`` asks."""
    return [
        m.LogProbProperties(
            token=(" " if i else "") + w.text,
            logprob=math.log(max(w.prob, 1e-10)),
            bytes=list(((" " if i else "") + w.text).encode()),
        )
        for i, w in enumerate(heard.words)
    ]


def transcript_phrase(heard: Heard) -> m.TranscriptionPhrase:
    """The whole turn as one phrase with its words' times, as ``include`` asks."""
    first, last = heard.words[0], heard.words[-1]
    confidence = sum(w.prob for w in heard.words) / len(heard.words)
    return m.TranscriptionPhrase(
        offset_milliseconds=first.start_ms,
        duration_milliseconds=last.start_ms + last.duration_ms - first.start_ms,
        text=heard.text,
        words=[
            m.TranscriptionWord(
                text=w.text, offset_milliseconds=w.start_ms, duration_milliseconds=w.duration_ms
            )
            for w in heard.words
        ],
        locale="en-US",
        confidence=round(confidence, 3),
    )


class RecognitionError(Exception):
    """The recogniser could not run or failed on a turn (the message says why)."""


def tool_words(name: str) -> list[str]:
    """The words of a tool's name that say what it is for: split at ``_``, ``-``, digits and
    camelCase, lower case, generic verbs dropped (``getCurrentTime`` -> current, time)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    parts = [p.lower() for p in re.split(r"[^A-Za-z]+", spaced) if p]
    return [p for p in parts if p not in GENERIC_WORDS and len(p) > 1]


def bias_phrases(session: dict[str, Any], extra_tool_names: list[str] | None = None) -> list[str]:
    """Keyphrases for one turn: the phrase list, then each tool name's words (as one phrase
    and one by one), lower case, each once."""
    transcription = session.get("input_audio_transcription") or {}
    phrases = [str(p) for p in transcription.get("phrase_list") or [] if isinstance(p, str)]
    names = [str(t.get("name")) for t in session.get("tools") or [] if isinstance(t, dict)]
    for name in [*names, *(extra_tool_names or [])]:
        words = tool_words(name)
        if len(words) > 1:
            phrases.append(" ".join(words))
        phrases.extend(words)
    out: list[str] = []
    for phrase in phrases:
        clean = " ".join(re.findall(r"[a-z']+", phrase.lower()))
        if clean and clean not in out:
            out.append(clean)
    return out


def language_warning(session: dict[str, Any]) -> str | None:
    """The warning a non-English ``input_audio_transcription.language`` earns (or None)."""
    language = (session.get("input_audio_transcription") or {}).get("language")
    if not language or not isinstance(language, str):
        return None
    wanted = [part.strip() for part in language.split(",") if part.strip()]
    if all(part.lower().split("-")[0] == "en" for part in wanted):
        return None
    return (
        f"The emulator recognises US English only; language '{language}' is not available,"
        " so input audio is transcribed as English."
    )


class Recogniser:
    """The worker process and the queue of turns to it (one turn at a time, in order)."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._lock = asyncio.Lock()
        self._failure: str | None = None

    def warm_up(self) -> None:
        """Start the worker in the background (no-op once started)."""
        if self._starting is None and self._failure is None:
            self._starting = asyncio.create_task(self._start())

    async def _start(self) -> asyncio.subprocess.Process:
        # Run as a script: importing the package would load the whole server first.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
            message = json.loads(line) if line else {"error": "the worker exited"}
        except (asyncio.TimeoutError, ValueError) as exc:
            message = {"error": f"the worker did not start ({exc!r})"}
        except asyncio.CancelledError:
            await _stop(process)
            raise
        if not message.get("ready"):
            self._failure = str(message.get("error"))
            await _stop(process)
            raise RecognitionError(self._failure)
        self._process = process
        return process

    async def _worker(self) -> asyncio.subprocess.Process:
        if self._failure is not None:
            raise RecognitionError(self._failure)
        self.warm_up()
        assert self._starting is not None
        process = await asyncio.shield(self._starting)
        if process.returncode is not None:
            self._starting = None
            raise RecognitionError("the recogniser's process ended")
        return process

    async def transcribe(
        self,
        pcm: bytes,
        rate: int,
        keyphrases: list[str],
    ) -> Heard:
        """Recognise one mono PCM16 turn."""
        async with self._lock:
            process = await self._worker()
            assert process.stdin is not None and process.stdout is not None
            header = {"rate": rate, "bytes": len(pcm), "keyphrases": keyphrases}
            try:
                process.stdin.write(json.dumps(header).encode() + b"\n" + pcm)
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), TURN_TIMEOUT_S)
            except (ConnectionError, asyncio.TimeoutError) as exc:
                self._starting = None
                await _stop(process)
                raise RecognitionError(f"the recogniser failed ({exc!r})") from None
        if not line:
            self._starting = None
            raise RecognitionError("the recogniser's process ended")
        message = json.loads(line)
        if "error" in message:
            raise RecognitionError(str(message["error"]))
        words = tuple(
            HeardWord(str(w), int(s), int(d), float(p)) for w, s, d, p in message["words"]
        )
        return Heard(str(message["final"]), words, float(message["cpu_s"]))

    async def close(self) -> None:
        """Stop the worker (waits for it)."""
        starting, self._starting = self._starting, None
        if starting is not None:
            if not starting.done():
                starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        if self._process is not None:
            await _stop(self._process)
            self._process = None


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
                process.terminate()  # (kill() has no SIGKILL on Windows)
            await process.wait()
