"""The README's "Audio on your laptop" recipe, word for word, over a real sshd (issue 11).

A "laptop" PulseAudio server (``tests/audio/pulse.py``, mode ``laptop``: a desktop
session's server that asks for its cookie) with two null sinks: ``mic`` (its monitor is
the default source) and ``speaker``. The recipe's lines run from the laptop's shell; the
far side is the loopback sshd. Speech played into ``mic`` is answered; ``parec`` records
``speaker.monitor``: what the laptop's user hears. The greeting and the answer's sentence
must play in real time: no gap the emulator did not send, length within 2 %.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import PulseServer, private_pulse
from tests.helpers import glitch_benchmark

from .sshd import SshServer
from .tmux import Pane

README = Path(__file__).resolve().parents[2] / "README.md"
RATE = 24_000
SPEED_TOLERANCE = 0.02


def recipe() -> list[str]:
    """The command lines of the README's ssh-recipe block, comments dropped."""
    text = README.read_text()
    block = text.split("<!-- ssh-recipe -->", 1)[1].split("<!-- /ssh-recipe -->", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def laptop() -> Iterator[PulseServer]:
    with private_pulse("laptop", "vl-laptop-") as server:
        yield server


def speech_wav(text: str, path: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=30)
    return path


def agent_lines(log_dir: Path) -> list[str]:
    logs = list(log_dir.glob("*_conversation.log"))
    if not logs:
        return []
    text = logs[0].read_text(errors="replace")
    return [line.split("\t", 1)[1] for line in text.splitlines() if line.startswith("Agent ")]


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)  # polling files another process writes


def samples(path: Path) -> np.ndarray:
    data = path.read_bytes()
    return np.frombuffer(data[: len(data) // 2 * 2], np.int16)


@pytest.mark.slow
def test_the_readme_recipe_forwards_the_laptops_audio(
    sshd: SshServer,
    pane: Callable[..., Pane],
    laptop: PulseServer,
    laptop_env: dict[str, str],
    tmp_path: Path,
) -> None:
    glitch = glitch_benchmark()
    save_cookie, connect = recipe()
    # $USER only names the forwarded socket: a name of this run's own, so two test runs
    # (or the developer's real forward) never share /tmp/pulse-$USER.sock.
    user = f"{pwd.getpwuid(os.getuid()).pw_name}-{os.getpid()}"
    env = {**laptop.env, **laptop_env, "USER": user}
    socket = Path(f"/tmp/pulse-{user}.sock")
    saved = subprocess.run(
        ["bash", "-c", save_cookie], env=env, capture_output=True, text=True, timeout=30
    )
    assert saved.returncode == 0, saved.stderr
    cookie = sshd.remote_home / ".config" / "voicelive-tui" / "pulse-cookie"
    assert cookie.read_bytes() == (Path(env["HOME"]) / ".config/pulse/cookie").read_bytes()

    heard = tmp_path / "speaker.raw"
    with heard.open("wb") as tap_file:
        tap = laptop.popen(
            "parec", "--device=speaker.monitor", f"--rate={RATE}", "--channels=1",
            "--format=s16le", "--latency-msec=20", stdout=tap_file,
        )  # fmt: skip
        try:
            term = pane(connect, env=env)
            logs = sshd.remote_home / "logs"
            try:
                wait_until(lambda: agent_lines(logs), 60, "the greeting")
            except AssertionError as exc:  # say what the user would have seen
                raise AssertionError(f"{exc}; the laptop's terminal:\n{term.screen()}") from None
            greeting = agent_lines(logs)[0]
            # The greeting's audio has reached the laptop's speaker and ended.
            wait_until(lambda: heard_silence_after_speech(glitch, heard), 30, "greeting heard")
            greeting_end = samples(heard).size
            question = speech_wav("Hello from my laptop. Can you hear me?", tmp_path / "q.wav")
            laptop.run("paplay", "--device=mic", str(question))
            asked_end = samples(heard).size
            wait_until(lambda: len(agent_lines(logs)) >= 2, 30, "the answer")
            answer = agent_lines(logs)[1]
            wait_until(
                lambda: heard_silence_after_speech(glitch, heard, asked_end), 30, "answer heard"
            )
            term.keys("q")
            term.wait_for("EXIT=0", 20)
        finally:
            tap.terminate()
            tap.wait(timeout=10)
            socket.unlink(missing_ok=True)
    assert answer.startswith("I heard"), answer  # the words it recognised, or the length
    recorded = samples(heard)
    emitted_greeting = asyncio.run(emitted(greeting))
    check_real_time(glitch, emitted_greeting, recorded[:greeting_end], "greeting")
    # The answer: its sentence, then the user's own words played back (an echo test).
    sentence = re.sub(r" \[interrupted.*$", "", answer)
    emitted_sentence = asyncio.run(emitted(sentence))
    after = recorded[asked_end:]
    onset = glitch.speech_span(glitch.silent_frames(after))[0]
    span = glitch.speech_span(glitch.silent_frames(emitted_sentence))
    begin, cut = max(0, onset - 200), onset + (span[1] - span[0]) + 125  # before the echo
    check_real_time(
        glitch, emitted_sentence, after[begin * glitch.FRAME : cut * glitch.FRAME], "answer"
    )
    cut *= glitch.FRAME
    echo = glitch.speech_span(glitch.silent_frames(after[cut:]))
    assert echo[1] - echo[0] > 1000, "the user's words were not played back"


def heard_silence_after_speech(glitch, path: Path, skip: int = 0) -> bool:
    """Speech was heard after sample ``skip``, and a second of silence after it."""
    silent = glitch.silent_frames(samples(path)[skip:])
    first, last = glitch.speech_span(silent)
    return last > first and silent.size - last > 1000


async def emitted(text: str) -> np.ndarray:
    """What the emulator sends for ``text`` (its speech is deterministic)."""
    from voicelive_tui.emulator.responder import speak

    _, pcm, _words = await speak(text, RATE)
    return np.frombuffer(pcm, np.int16)


def silences(glitch, audio: np.ndarray, shortest_ms: int) -> list[tuple[int, int]]:
    """Silent runs inside the speech, as (ms after the speech onset, length in ms)."""
    silent = glitch.silent_frames(audio)
    onset = glitch.speech_span(silent)[0]
    return [(at - onset, n) for at, n in glitch._runs(silent) if n >= shortest_ms]


def added_silences(glitch, emitted: np.ndarray, recorded: np.ndarray) -> list[tuple[int, int]]:
    """Silences of ``recorded`` (one block, 20 ms, or longer) that ``emitted`` does not
    have at that place (within 2 % + 20 ms) and as long (within 10 ms): dropouts."""
    sent = silences(glitch, emitted, 5)
    added = []
    for at, length in silences(glitch, recorded, 20):
        near = [n for t, n in sent if abs(t - at) <= 20 + SPEED_TOLERANCE * at]
        if not near or length > max(near) + 10:
            added.append((at, length))
    return added


def check_real_time(glitch, emitted: np.ndarray, recorded: np.ndarray, what: str) -> None:
    """No dropout, and the speech lasts as long as what was sent (within 2 %)."""
    e_first, e_last = glitch.speech_span(glitch.silent_frames(emitted))
    r_first, r_last = glitch.speech_span(glitch.silent_frames(recorded))
    ratio = (r_last - r_first) / max(1, e_last - e_first)
    assert added_silences(glitch, emitted, recorded) == [], what
    assert abs(ratio - 1) <= SPEED_TOLERANCE, (what, ratio)


pytestmark = [
    pytest.mark.realaudio,  # real-time audio: in the audio tests' worker
    pytest.mark.skipif(sys.platform != "linux", reason="PulseAudio and sshd tests run on Linux"),
]
