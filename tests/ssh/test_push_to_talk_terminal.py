"""Push to talk in a real terminal (tmux) with a real microphone: speech played into a
PulseAudio null sink whose monitor is the default source (tests/audio/pulse.py), the
dashboard against a ``voicelive-emulator`` process. Open, speak, send: one user turn and one
reply; nothing appended while the microphone is closed; opening it during a reply barges in;
Esc discards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audio.pulse import PulseServer, private_pulse
from tests.helpers import child_env
from voicelive_tui.logs import per_event

from .conftest import EMULATOR_KEY
from .tmux import Pane, missing_tmux


@pytest.fixture
def microphone() -> Iterator[PulseServer]:
    with private_pulse("runtime-dir", "vl-ptt-") as server:
        yield server


def events(log_dir: Path) -> list[dict[str, Any]]:
    logs = list(log_dir.glob("*_events.jsonl"))
    if not logs:
        return []
    lines = logs[0].read_text(errors="replace").splitlines()
    return [e for line in lines if line.endswith("}") for e in per_event(json.loads(line))]


def types(log_dir: Path, direction: str | None = None) -> list[str]:
    return [
        e["event"].get("type")
        for e in events(log_dir)
        if direction is None or e["direction"] == direction
    ]


def wait_until(check: Callable[[], object], timeout: float, what: str, pane: Pane) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}; the screen:\n{pane.screen()}")
        time.sleep(0.1)  # polling files another process writes


@pytest.mark.slow
def test_push_to_talk_in_a_terminal(
    emulator_endpoint: Callable[..., str], microphone: PulseServer, tmp_path: Path
) -> None:
    if missing_tmux():
        pytest.skip(missing_tmux() or "")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    question = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(question), "What is the time?"], check=True, timeout=30)
    endpoint = emulator_endpoint("long-reply=8")
    logs = tmp_path / "logs"
    command = (
        f"{sys.executable} -m voicelive_tui --endpoint {endpoint} --api-key {EMULATOR_KEY}"
        f" --push-to-talk --no-greeting --log-dir {logs}"
    )
    env = child_env({**microphone.env, "TERM": "xterm-256color"})
    term = Pane(command, size=(120, 36), env=env, where=tmp_path)
    try:
        term.wait_for("push to talk: ` to talk", 30)
        # Spoken while the microphone is closed: nothing leaves the machine.
        microphone.run("paplay", "--device=mic", str(question))
        assert "input_audio_buffer.append" not in types(logs)
        term.type("`")
        term.wait_for("talking", 10)
        microphone.run("paplay", "--device=mic", str(question))
        term.type("`")
        wait_until(lambda: "response.audio.delta" in types(logs), 30, "the reply", term)
        sent = types(logs, "sent")
        commit = sent.index("input_audio_buffer.commit")
        assert sent[commit + 1] == "response.create"
        assert "input_audio_buffer.append" in sent[:commit]
        appended = sent.count("input_audio_buffer.append")
        # The reply plays (8 s of it): opening the microphone interrupts it.
        wait_until(lambda: "talking" not in term.screen(), 10, "closed again", term)
        term.type("`")
        wait_until(
            lambda: "conversation.item.truncate" in types(logs, "sent"), 10, "barge-in", term
        )
        term.keys("Escape")
        wait_until(lambda: "input_audio_buffer.clear" in types(logs, "sent"), 10, "discard", term)
        closed_at = len(types(logs, "sent"))
        microphone.run("paplay", "--device=mic", str(question))  # closed: not sent
        term.keys("q")
        term.wait_for("EXIT=0", 20)
    finally:
        term.close()
    sent = types(logs, "sent")
    assert "input_audio_buffer.append" not in sent[closed_at:]
    assert sent.count("input_audio_buffer.commit") == 1
    assert sent.count("response.cancel") == 1  # the barge-in
    assert appended > 50  # about 1.5 s of speech, 20 ms a block, while open
    users = [e for e in events(logs) if e["event"].get("type") == "conversation.item.created"]
    assert len([u for u in users if u["event"]["item"].get("role") == "user"]) == 1
