"""Offline speech recognition of committed turns: pocketsphinx in a worker process.

One ``recogniser_worker`` process serves every emulator of a Python process; it starts the
first time VAD hears speech start (or a turn is committed by hand) and is fed the committed
turns one at a time. The event loop hands a turn to a thread that writes it to the pipe
and reads the JSON line back, so recognition never delays audio events.

What biases recognition (also in the README's emulator section): the session's
``input_audio_transcription.phrase_list``, the words of its tools' names (a function's
``get_current_time`` -> "current time", "time"; ``tool_words``) and of their descriptions
(``description_words``), the tools its MCP servers list included, spotted as keyphrases
over the turn; a phrase found replaces the words the language model heard at its time.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from azure.ai.voicelive import models as m

__all__ = [
    "Heard",
    "HeardWord",
    "RecognitionError",
    "Recogniser",
    "SettledWords",
    "bias_phrases",
    "description_words",
    "language_warning",
    "tool_words",
    "transcript_logprobs",
    "transcript_phrase",
]

T = TypeVar("T")

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
FUNCTION_WORDS = frozenset(
    "about above after all also any are as be been being but by can could does e.g each etc"
    " from given has have how i if into it its like may more most must no not one only other"
    " our should so some such than that their them then there these this those through use"
    " used uses using via was we were what when where which while who why will with would"
    " you your tool function information specified provided optional value values".split()
)
"""Words of a tool's description that say nothing of its purpose (with ``GENERIC_WORDS``)."""
SETTLED_MS = 600
"""A partial word that ended this long before the audio heard so far is streamed even when
the hypothesis before did not have it (how often the whole decode then disagrees:
``benchmarks/recognition.py``)."""


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


class SettledWords:
    """The words of a turn being spoken that can be streamed (transcription deltas only
    add text): in the latest partial hypothesis, from its start, each word that ended
    :data:`SETTLED_MS` before the audio heard so far or that the hypothesis before agreed
    on (its newest word left out: it may still grow); given out after the words already
    given, and only while the hypotheses keep those."""

    def __init__(self) -> None:
        self.previous: list[str] = []
        self.given: list[str] = []

    def settle(self, partial: list[tuple[str, int]], heard_ms: int) -> list[str]:
        """The words newly settled by ``partial`` ((word, end ms) pairs)."""
        said = [word for word, _end in partial]
        settled: list[str] = []
        for at, (word, end) in enumerate(partial):
            agreed = at < len(said) - 1 and at < len(self.previous) and self.previous[at] == word
            if not agreed and end > heard_ms - SETTLED_MS:
                break
            settled.append(word)
        self.previous = said
        n = len(self.given)
        if len(settled) <= n or settled[:n] != self.given:
            return []
        self.given = settled
        return settled[n:]

    def rest(self, final: str) -> str | None:
        """What ``final`` adds to the words given out (None: it does not start with them)."""
        words = final.split()
        if words[: len(self.given)] != self.given:
            return None
        return " ".join(words[len(self.given) :])


class RecognitionError(Exception):
    """The recogniser could not run or failed on a turn (the message says why)."""


def tool_words(name: str) -> list[str]:
    """The words of a tool's name that say what it is for: split at ``_``, ``-``, digits and
    camelCase, lower case, generic verbs dropped (``getCurrentTime`` -> current, time)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    parts = [p.lower() for p in re.split(r"[^A-Za-z]+", spaced) if p]
    return [p for p in parts if p not in GENERIC_WORDS and len(p) > 1]


def description_words(description: str) -> list[str]:
    """The words of a tool's description that say what it is for, lower case, each once:
    "Ask any question about a GitHub repository." -> ask, question, github, repository."""
    out: list[str] = []
    for word in re.findall(r"[a-z]+(?:'[a-z]+)?", description.lower()):
        if len(word) > 2 and word not in GENERIC_WORDS | FUNCTION_WORDS and word not in out:
            out.append(word)
    return out


def bias_phrases(
    session: dict[str, Any], extra_tools: list[dict[str, Any]] | None = None
) -> list[str]:
    """Keyphrases for one turn: the phrase list, then each tool's name words (as one phrase
    and one by one) and its description's words, lower case, each once. ``extra_tools``:
    the tools the session's MCP servers list (``name``, ``description``)."""
    transcription = session.get("input_audio_transcription") or {}
    phrases = [str(p) for p in transcription.get("phrase_list") or [] if isinstance(p, str)]
    tools = [t for t in session.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    for tool in [*tools, *(extra_tools or [])]:
        words = tool_words(str(tool["name"]))
        if len(words) > 1:
            phrases.append(" ".join(words))
        phrases.extend(words)
        phrases.extend(description_words(str(tool.get("description") or "")))
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


class _SharedWorker:
    """The worker process every emulator of this Python process shares, so the model loads
    once (about 0.3 s of CPU), not once per emulator. One turn at a time, from any thread
    or event loop: the loop-side :class:`Recogniser` talks to it from a daemon thread."""

    def __init__(self, script: Path) -> None:
        self._script = script
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._failure: str | None = None
        atexit.register(self.stop)

    def _ready(self) -> subprocess.Popen[bytes]:
        """The running worker, started if need be (call with the lock held)."""
        if self._failure is not None:
            raise RecognitionError(self._failure)
        if self._process is not None and self._process.poll() is None:
            return self._process
        # Run as a script: importing the package would load the whole server first.
        process = subprocess.Popen(
            [sys.executable, str(self._script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        line = _with_deadline(process, START_TIMEOUT_S, process.stdout.readline)
        try:
            message = json.loads(line) if line else {"error": "the worker exited"}
        except ValueError as exc:
            message = {"error": f"the worker did not start ({exc!r})"}
        if not message.get("ready"):
            self._failure = str(message.get("error"))
            _stop(process)
            raise RecognitionError(self._failure)
        self._process = process
        return process

    def warm_up(self) -> None:
        with self._lock:
            with contextlib.suppress(RecognitionError):
                self._ready()

    def ask(self, request: bytes) -> bytes:
        """Send one request, return the worker's answer line (RecognitionError if none)."""
        with self._lock:
            process = self._ready()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(request)
                process.stdin.flush()
            except OSError as exc:
                self._process = None
                _stop(process)
                raise RecognitionError(f"the recogniser failed ({exc!r})") from None
            line = _with_deadline(process, TURN_TIMEOUT_S, process.stdout.readline)
            if not line:
                self._process = None
                _stop(process)
                raise RecognitionError("the recogniser's process ended")
            return line

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _stop(process)


_SHARED: dict[Path, _SharedWorker] = {}
_SHARED_LOCK = threading.Lock()


def _shared() -> _SharedWorker:
    """The shared worker that runs ``WORKER`` (a stand-in script gets one of its own)."""
    with _SHARED_LOCK:
        worker = _SHARED.get(WORKER)
        if worker is None:
            worker = _SHARED[WORKER] = _SharedWorker(WORKER)
        return worker


class Recogniser:
    """An emulator's way to the shared worker: turns are recognised one at a time, in the
    order they were committed, on a daemon thread (a quit never waits for a decode)."""

    def __init__(self) -> None:
        self._order = asyncio.Lock()
        self._warming = False

    def warm_up(self) -> None:
        """Start the worker in the background (no-op once started)."""
        if not self._warming:
            self._warming = True
            threading.Thread(target=_shared().warm_up, name="recogniser-start", daemon=True).start()

    async def _ask(self, header: dict[str, Any], pcm: bytes = b"") -> dict[str, Any]:
        request = json.dumps({**header, "bytes": len(pcm)}).encode() + b"\n" + pcm
        async with self._order:
            line = await _on_a_thread(_shared().ask, request)
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise RecognitionError(str(message["error"]))
        return message

    async def transcribe(
        self,
        pcm: bytes,
        rate: int,
        keyphrases: list[str],
        stream: str | None = None,
    ) -> Heard:
        """Recognise one mono PCM16 turn (and end its ``stream``, if it had one)."""
        header = {"op": "turn", "rate": rate, "keyphrases": keyphrases, "stream": stream}
        message = await self._ask(header, pcm)
        words = tuple(
            HeardWord(str(w), int(s), int(d), float(p)) for w, s, d, p in message["words"]
        )
        return Heard(str(message["final"]), words, float(message["cpu_s"]))

    async def step(self, stream: str, pcm: bytes, rate: int) -> tuple[list[tuple[str, int]], int]:
        """Feed more mono PCM16 of a turn still being spoken: the words heard so far, each
        with where it ends, and how much of the turn was heard (ms)."""
        message = await self._ask({"op": "step", "stream": stream, "rate": rate}, pcm)
        words = [(str(w), int(end)) for w, end in message["partial"]]
        return words, int(message["heard_ms"])

    async def close_stream(self, stream: str) -> None:
        """Forget a stream whose turn will not be committed."""
        await self._ask({"op": "close", "stream": stream})

    async def close(self) -> None:
        """Nothing to wait for: the shared worker ends with this process (its input closes)."""


async def _on_a_thread(call: Callable[[bytes], bytes], arg: bytes) -> bytes:
    """``call(arg)`` on a daemon thread; the loop may close before it ends (then the answer
    is dropped), and interpreter exit never waits for it."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    def settle(result: bytes | None, error: BaseException | None) -> None:
        if not answer.done():
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(result or b"")

    def run() -> None:
        try:
            result, error = call(arg), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="recogniser", daemon=True).start()
    return await answer


def _with_deadline(process: subprocess.Popen[bytes], seconds: float, read: Callable[[], T]) -> T:
    """``read()``, with the worker terminated (so that the read ends) after ``seconds``."""
    timer = threading.Timer(seconds, _terminate, (process,))
    timer.daemon = True
    timer.start()
    try:
        return read()
    finally:
        timer.cancel()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, OSError):  # it may have ended meanwhile
        process.terminate()  # (kill() has no SIGKILL on Windows)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the worker: it ends at once when its input closes, unless mid-turn (then it is
    terminated after ``STOP_TIMEOUT_S``). A plain ``wait()`` under a timer, not
    ``wait(timeout)``, which polls with ``os.WNOHANG`` (POSIX only)."""
    if process.returncode is None:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        _with_deadline(process, STOP_TIMEOUT_S, process.wait)
