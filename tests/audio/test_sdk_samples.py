"""The SDK's own samples (azure-ai-voicelive 1.3.1) as real clients of the emulator, by voice.

Each sample runs unmodified (``sdk_samples.py`` fetches it at test time; none is in the
repository) with PyAudio on a private PulseAudio server: espeak-ng speech is played into
the microphone sink, the sample hears it through PortAudio, and what it plays goes to the
speaker sink, whose monitor is recorded. The emulator runs at real speed with its default
(the service's) pacing. What is checked is what a user of the sample would see: its own
output lines, the calls and answers in the emulator's conversation, and the answer heard
on the speaker.

Slow (tens of seconds each, real time): marked ``slow``, left out of the default run;
``python -m pytest -m slow tests/audio/test_sdk_samples.py`` runs them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tests import helpers
from voicelive_tui.emulator import Emulator, StoredItem

from .pulse import PulseServer
from .sdk_samples import SampleRun, SamplesUnavailable, fetch_samples, pyaudio_path

pytestmark = [pytest.mark.realaudio, pytest.mark.slow]

KEY = "sdk-sample-key"
SESSION_TIMEOUT_S = 60.0
"""A sample's start: Python, the SDK and PortAudio's device scan, on a loaded machine."""
TURN_TIMEOUT_S = 90.0
SAMPLE_ANSWER_WAIT_S = 10.0
"""How long the function-calling sample waits for the answer after the function result."""
ANSWER_RMS = 300.0
"""The speaker's monitor is louder than this (RMS) while the answer plays."""
LEAD_S, TAIL_S = 0.6, 0.8
NOISE = ("ALSA lib", "Jack", "jack", "Cannot connect to server")
"""PortAudio's device scan on a machine without a sound card: not the sample's words."""
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache (kept between runs); a temporary folder without the cache plugin."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("azure-ai-voicelive-samples")
    return Path(cache.mkdir("azure-ai-voicelive-samples"))


@pytest.fixture(scope="session")
def samples(sample_cache: Path) -> Path:
    """The sdist's ``samples`` folder (downloaded once into pytest's cache)."""
    try:
        return fetch_samples(sample_cache)
    except SamplesUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pyaudio(sample_cache: Path) -> Path | None:
    """Where the samples import PyAudio from (built once into the cache when needed)."""
    try:
        return pyaudio_path(sample_cache)
    except SamplesUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``spoken(text)``: espeak-ng's ``en-us`` voice at 140 words a minute, 24 kHz mono,
    with :data:`LEAD_S` of silence before and :data:`TAIL_S` after."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for real speech (apt-get install espeak-ng sox)")
    folder = tmp_path_factory.mktemp("spoken")

    def make(text: str) -> Path:
        name = re.sub(r"\W+", "-", text.lower()).strip("-")
        raw, out = folder / f"{name}.raw.wav", folder / f"{name}.wav"
        if not out.exists():
            voice = ["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text]
            subprocess.run(voice, check=True)
            # Silence around the words, as a user pauses: a new playback stream's first
            # milliseconds can be lost in PulseAudio, and the VAD's prefix padding wants audio
            # before the speech.
            subprocess.run(
                ["sox", str(raw), "-r", "24000", "-c", "1", "-b", "16", str(out)]
                + ["pad", str(LEAD_S), str(TAIL_S)],
                check=True,
            )
        return out

    return make


# -- helpers ----------------------------------------------------------------------------------


class SpeakerTap:
    """``parec`` of the speaker sink's monitor: what the sample played."""

    def __init__(self, pulse: PulseServer, path: Path) -> None:
        self.path = path
        self._file = path.open("wb")
        self._proc = pulse.popen(
            "parec", "--device=speaker.monitor", "--rate=24000", "--channels=1",
            "--format=s16le", "--latency-msec=20", stdout=self._file,
        )  # fmt: skip

    def loud_ms(self) -> int:
        """Milliseconds (10 ms frames) louder than :data:`ANSWER_RMS`."""
        data = self.path.read_bytes()
        x = np.frombuffer(data[: len(data) // 2 * 2], np.int16).astype(float)
        n = x.size // 240
        rms = np.sqrt(np.mean(x[: n * 240].reshape(n, 240) ** 2, axis=1))
        return int((rms > ANSWER_RMS).sum()) * 10

    def stop(self) -> None:
        helpers.stop_process(self._proc)
        self._file.close()


def items(emu: Emulator, kind: str) -> list[StoredItem]:
    record = emu.latest
    return [i for i in record.conversation.items if i.kind == kind] if record else []


def answers(emu: Emulator) -> list[StoredItem]:
    """The agent's completed spoken messages, oldest first."""
    record = emu.latest
    if record is None:
        return []
    return [
        i
        for i in record.conversation.items
        if i.role == "assistant" and i.kind == "audio" and i.status == "completed"
    ]


def user_transcript(emu: Emulator) -> str:
    """The transcript of the user's (only) spoken turn."""
    (user,) = [i for i in emu.latest.conversation.items if i.role == "user"]
    return user.text


def logged_at(run: SampleRun, text: str) -> datetime:
    """When the sample logged its first line containing ``text`` (its asctime)."""
    line = run.matching(text)[0]
    found = LOG_TIME.match(line)
    assert found, line
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")


async def start_sample(
    samples: Path,
    name: str,
    where: Path,
    emu: Emulator,
    pulse: PulseServer,
    pyaudio: Path | None,
    **env: str,
) -> SampleRun:
    run = SampleRun(
        samples / name, where, endpoint=emu.endpoint, key=KEY, pulse_env=pulse.env,
        pyaudio=pyaudio, env=env,
    )  # fmt: skip
    await until(
        run,
        lambda: run.has("Started audio capture") or run.process.poll() is not None,
        SESSION_TIMEOUT_S,
        "the sample's session and microphone",
    )
    assert run.process.poll() is None, run.output
    return run


async def until(run: SampleRun, predicate: Callable[[], object], timeout: float, what: str) -> None:
    """``helpers.wait_until``, failing with the sample's output (minus ALSA's probing)."""
    try:
        await helpers.wait_until(predicate, timeout, what)
    except AssertionError as exc:
        said = [ln for ln in run.lines if not ln.startswith(NOISE)]
        raise AssertionError(f"{exc}; the sample said:\n" + "\n".join(said)) from None


def say(pulse: PulseServer, wav: Path) -> None:
    """Play ``wav`` into the microphone sink (returns when it has been played)."""
    subprocess.run(["paplay", "--device=mic", str(wav)], env=pulse.env, check=True, timeout=60)


def no_errors(run: SampleRun) -> None:
    """No error logged until Ctrl+C. (After it, the samples' audio threads may still send
    into the closing socket: "Failed to send event: Cannot write to closing transport".)"""
    lines = run.lines[: run.interrupted_at]
    bad = [ln for ln in lines if "Traceback" in ln or " - ERROR - " in ln or ":ERROR:" in ln]
    assert not bad, run.output


# -- the samples ----------------------------------------------------------------------------


async def test_basic_sample_answers_a_spoken_turn(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path
):
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    tap = SpeakerTap(pulse, tmp_path / "speaker.raw")
    run = await start_sample(
        samples, "basic_voice_assistant_async.py", tmp_path / "basic", emu, pulse, pyaudio
    )
    try:
        say(pulse, spoken("Hello, what can you do?"))
        await until(run, lambda: answers(emu), TURN_TIMEOUT_S, "the answer")
        answer = answers(emu)[0]
        await until(
            run, lambda: tap.loud_ms() >= 0.5 * answer.audio_ms, TURN_TIMEOUT_S, "the answer heard"
        )
    finally:
        run.interrupt()
        tap.stop()
    (user,) = [i for i in emu.latest.conversation.items if i.role == "user"]
    assert user.kind == "audio" and user.audio_ms > 1000
    assert run.has("Listening...") and run.has("Processing...")
    assert run.has("Assistant finished speaking")
    no_errors(run)


async def test_agent_v2_sample_talks_to_an_agent_by_voice(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path
):
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    run = await start_sample(
        samples, "agent_v2_sample.py", tmp_path / "agent", emu, pulse, pyaudio,
        AGENT_NAME="weather-agent", AGENT_PROJECT_NAME="sample-project",
    )  # fmt: skip
    try:
        say(pulse, spoken("Hello, what can you do?"))
        await until(
            run,
            lambda: run.has("Agent responded with audio transcript"),
            TURN_TIMEOUT_S,
            "the answer",
        )
    finally:
        run.interrupt()
    record = emu.latest
    assert record is not None and record.agent_mode
    assert record.session["agent"]["name"] == "weather-agent"
    (said,) = run.matching("You said:")
    (answer,) = answers(emu)
    assert answer.text in run.matching("Agent responded with audio transcript")[0]
    assert said.split("User Input:")[1].strip() == user_transcript(emu)
    no_errors(run)


async def test_function_calling_sample_calls_the_function_by_voice(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path
):
    """The sample's own example question. (A time question is not used: the recogniser
    does not hear "time" in espeak-ng's "What time is it?", at 120 to 160 words a minute.)"""
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    run = await start_sample(
        samples, "async_function_calling_sample.py", tmp_path / "functions", emu, pulse, pyaudio
    )
    try:
        say(pulse, spoken("What's the weather in Seattle?"))
        await until(
            run,
            lambda: run.has("Final response transcript") or run.has("Timeout waiting"),
            TURN_TIMEOUT_S,
            "the answer after the function's result",
        )
    finally:
        run.interrupt()
    assert not run.has("Timeout waiting"), run.output
    heard = [i.text for i in emu.latest.conversation.items if i.role == "user"]
    (call,) = items(emu, "function_call")
    (result,) = items(emu, "function_call_output")
    assert call.data["name"] == "get_current_weather", heard
    (transcript,) = run.matching("Final response transcript:")
    # The place is taken from the words after "in"; the recogniser misses a word now and
    # then (word error rate ~28 %, benchmarks/recognition.py: once in a CI run it heard
    # "what's the weather we've seattle", and the call then had the placeholder).
    if "in seattle" in " ".join(heard):
        assert json.loads(call.data["arguments"]) == {"location": "Seattle"}, heard
        assert json.loads(result.data["output"])["location"] == "Seattle"  # the sample's
        assert "Seattle" in transcript
    assert "Partly Cloudy" in transcript and "22" in transcript
    assert "{" not in transcript.split("Final response transcript:")[1]  # no JSON read out
    waited = logged_at(run, "Final response transcript") - logged_at(run, "Function result sent")
    assert waited.total_seconds() < SAMPLE_ANSWER_WAIT_S
    print(f"function result to answer: {waited.total_seconds():.1f} s")
    no_errors(run)


async def test_mcp_sample_asks_the_server_that_needs_no_approval_by_voice(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path
):
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    run = await start_sample(samples, "async_mcp_sample.py", tmp_path / "mcp", emu, pulse, pyaudio)
    try:
        await until(
            run, lambda: len(items(emu, "mcp_list_tools")) == 2, SESSION_TIMEOUT_S, "tool discovery"
        )
        say(pulse, spoken("Ask a question about the Azure SDK repository."))
        await until(
            run, lambda: len(answers(emu)) >= 1, TURN_TIMEOUT_S, "the answer using the MCP result"
        )
    finally:
        run.interrupt()
    calls = items(emu, "mcp_call")
    assert len(calls) == 1, user_transcript(emu)
    call = calls[0]
    assert call.data["server_label"] == "deepwiki", call.data
    assert call.data["name"] in ("read_wiki_structure", "ask_question")
    assert not items(emu, "mcp_approval_request") and not run.has("Approve MCP call?")
    assert run.has("MCP Call triggered: server_label=deepwiki")
    assert run.has("MCP call completed")
    (answer,) = answers(emu)
    assert call.data["output"][:60] in answer.text, answer.text  # it says what the server said
    no_errors(run)
