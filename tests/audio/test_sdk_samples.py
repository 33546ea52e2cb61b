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
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_cache(request: pytest.FixtureRequest) -> Path:
    return Path(request.config.cache.mkdir("azure-ai-voicelive-samples"))


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
    """``spoken(text)``: espeak-ng's ``en-us`` voice at 140 words a minute, 24 kHz mono."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for real speech (apt-get install espeak-ng sox)")
    folder = tmp_path_factory.mktemp("spoken")

    def make(text: str) -> Path:
        name = re.sub(r"\W+", "-", text.lower()).strip("-")
        raw, out = folder / f"{name}.raw.wav", folder / f"{name}.wav"
        if not out.exists():
            voice = ["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text]
            subprocess.run(voice, check=True)
            subprocess.run(
                ["sox", str(raw), "-r", "24000", "-c", "1", "-b", "16", str(out)], check=True
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
    await helpers.wait_until(
        lambda: run.has("Started audio capture") or run.process.poll() is not None,
        SESSION_TIMEOUT_S,
        "the sample's session and microphone",
    )
    assert run.process.poll() is None, run.output
    return run


def say(pulse: PulseServer, wav: Path) -> None:
    """Play ``wav`` into the microphone sink (returns when it has been played)."""
    subprocess.run(["paplay", "--device=mic", str(wav)], env=pulse.env, check=True, timeout=60)


def no_errors(run: SampleRun) -> None:
    bad = [ln for ln in run.lines if "Traceback" in ln or " - ERROR - " in ln or ":ERROR:" in ln]
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
        await helpers.wait_until(lambda: answers(emu), TURN_TIMEOUT_S, "the answer")
        answer = answers(emu)[0]
        await helpers.wait_until(
            lambda: tap.loud_ms() >= 0.5 * answer.audio_ms, TURN_TIMEOUT_S, "the answer heard"
        )
    finally:
        code = run.interrupt()
        tap.stop()
    (user,) = [i for i in emu.latest.conversation.items if i.role == "user"]
    assert user.kind == "audio" and user.audio_ms > 1000
    assert run.has("Listening...") and run.has("Processing...")
    assert run.has("Assistant finished speaking")
    assert run.has("Voice assistant shut down"), run.output
    assert code == 0
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
        await helpers.wait_until(
            lambda: run.has("Agent responded with audio transcript"), TURN_TIMEOUT_S, "the answer"
        )
    finally:
        code = run.interrupt()
    record = emu.latest
    assert record is not None and record.agent_mode
    assert record.session["agent"]["name"] == "weather-agent"
    (said,) = run.matching("You said:")
    (answer,) = answers(emu)
    assert answer.text in run.matching("Agent responded with audio transcript")[0]
    assert said.split("User Input:")[1].strip()  # what it heard, however it was heard
    assert code == 0 and run.has("Voice assistant shut down"), run.output
    no_errors(run)


@pytest.mark.parametrize(
    "question, function",
    [
        ("What's the weather in Seattle?", "get_current_weather"),
        ("What time is it?", "get_current_time"),
    ],
    ids=["weather", "time"],
)
async def test_function_calling_sample_calls_the_function_by_voice(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path, question, function
):
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    run = await start_sample(
        samples, "async_function_calling_sample.py", tmp_path / "functions", emu, pulse, pyaudio
    )
    try:
        say(pulse, spoken(question))
        await helpers.wait_until(
            lambda: run.has("Final response transcript") or run.has("Timeout waiting"),
            TURN_TIMEOUT_S,
            "the answer after the function's result",
        )
    finally:
        code = run.interrupt()
    assert not run.has("Timeout waiting"), run.output
    (call,) = items(emu, "function_call")
    (result,) = items(emu, "function_call_output")
    assert call.data["name"] == function, run.output
    arguments = json.loads(call.data["arguments"])
    output = json.loads(result.data["output"])
    (transcript,) = run.matching("Final response transcript:")
    if function == "get_current_weather":
        assert arguments.get("location", "").lower() == "seattle", arguments
        assert output["location"].lower() == "seattle"
        assert "Partly Cloudy" in transcript and "22" in transcript
    else:
        assert output["time"] in transcript and output["date"] in transcript
    assert "{" not in transcript.split("Final response transcript:")[1]  # no JSON read out
    waited = logged_at(run, "Final response transcript") - logged_at(run, "Function result sent")
    assert waited.total_seconds() < SAMPLE_ANSWER_WAIT_S
    print(f"{function}: function result to answer {waited.total_seconds():.1f} s")
    assert code == 0, run.output
    no_errors(run)


async def test_mcp_sample_asks_the_server_that_needs_no_approval_by_voice(
    emulator_factory, pulse, samples, pyaudio, spoken, tmp_path
):
    emu = await emulator_factory(speed=1.0, api_key=KEY)
    run = await start_sample(samples, "async_mcp_sample.py", tmp_path / "mcp", emu, pulse, pyaudio)
    try:
        await helpers.wait_until(
            lambda: len(items(emu, "mcp_list_tools")) == 2, SESSION_TIMEOUT_S, "tool discovery"
        )
        say(pulse, spoken("Ask a question about the GitHub repository of the Azure SDK."))
        await helpers.wait_until(
            lambda: len(answers(emu)) >= 1, TURN_TIMEOUT_S, "the answer using the MCP result"
        )
    finally:
        code = run.interrupt()
    (call,) = items(emu, "mcp_call")
    assert call.data["server_label"] == "deepwiki", call.data
    assert call.data["name"] in ("read_wiki_structure", "ask_question")
    assert not items(emu, "mcp_approval_request") and not run.has("Approve MCP call?")
    assert run.has("MCP Call triggered: server_label=deepwiki")
    assert run.has("MCP call completed")
    (answer,) = answers(emu)
    assert call.data["output"][:60] in answer.text, answer.text  # it says what the server said
    assert code == 0, run.output
    no_errors(run)
