"""Screen-reader mode (issue 27) in a real terminal: tmux, the program's bytes piped out.

A spoken turn (a WAV as the microphone) makes the emulator call an MCP tool that asks for
approval; y approves it; a typed message gets a reply that the space key interrupts. Every
line read out is labelled, and nothing in the bytes is box drawing, a block or braille
character, or a sequence that hides the cursor.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CLI, REPO, mcp_tools_file
from tests.ssh.tmux import Pane, missing_tmux

pytestmark = pytest.mark.skipif(missing_tmux() is not None, reason=str(missing_tmux()))

ENV = {"PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
LABELS = ("You:", "Agent:", "Tool:", "Notice:", "State:", "Event:", "Help:", "Type:", "Filter:")
DRAWING = re.compile("[\u2500-\u259f\u2800-\u28ff]")  # box drawing, blocks, braille
HIDE_CURSOR = "\x1b[?25l"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


@pytest.fixture
def pane(tmp_path: Path, speech_wav: Path) -> Iterator[tuple[Pane, Path]]:
    line = shlex.join(
        [
            *CLI, "--demo", "--screen-reader", "--no-greeting",
            "--input-wav", str(speech_wav), "--output-wav", str(tmp_path / "agent.wav"),
            "--tools", str(mcp_tools_file(tmp_path)), "--log-dir", str(tmp_path / "logs"),
        ]
    )  # fmt: skip
    opened = Pane(line, size=(100, 40), env=ENV, where=tmp_path)
    out = tmp_path / "tty.out"
    opened.pipe(out)
    yield opened, out
    opened.close()


def wait_text(out: Path, text: str, timeout: float = 30.0, after: str = "") -> str:
    """Wait until ``text`` was written to the terminal (after the last ``after``, if given);
    everything written by then."""
    deadline = time.monotonic() + timeout
    while True:
        written = out.read_bytes().decode("utf-8", "replace") if out.exists() else ""
        start = written.rfind(after) if after else 0
        if start >= 0 and text in written[start:]:
            return written
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not written within {timeout} s:\n{written}")
        time.sleep(0.1)  # polling a file another process writes, not synchronising


def test_a_conversation_reads_as_labelled_lines(pane: tuple[Pane, Path]) -> None:
    term, out = pane
    wait_text(out, "State: listening")
    wait_text(out, "press y or n")  # the spoken turn made the agent call an MCP tool
    term.keys("y")
    wait_text(out, "Agent: I asked deepwiki with ask question, and it says: Emulated answer")
    term.keys("t")
    wait_text(out, "Type: ")
    term.type("tell me more")
    term.keys("Enter")
    wait_text(out, "You: tell me more")
    # The second turn asks again; deny it, and the agent's reply says so: interrupt it.
    wait_text(out, "press y or n", after="You: tell me more")
    term.keys("n")
    wait_text(out, "Tool: approval: denied")
    wait_text(out, "State: agent speaking", after="Tool: approval: denied")
    term.keys("Space")
    wait_text(out, "[interrupted by you]")
    term.keys("?")
    wait_text(out, "Help: q: ")
    term.keys("q")
    written = wait_text(out, "Notice: info: goodbye")

    assert not DRAWING.findall(written), DRAWING.findall(written)[:5]
    assert HIDE_CURSOR not in written
    lines = [ln for ln in ESCAPE.sub("", written).replace("\r", "").split("\n") if ln.strip()]
    # The banner is the one line without a label.
    unlabelled = [ln for ln in lines[1:] if not ln.startswith(LABELS)]
    assert not unlabelled, unlabelled
    for wanted in (
        "Tool: tool call: deepwiki.ask_question",
        "Tool: approval asked: deepwiki.ask_question",
        "Tool: approved: deepwiki.ask_question",
        "Agent: I asked deepwiki with ask question, and it says: Emulated answer",
        "You: tell me more",
        "Tool: denied: deepwiki.ask_question",
        "State: you are speaking",
        "State: thinking",
        "State: agent speaking",
    ):
        assert any(ln.startswith(wanted) for ln in lines), (wanted, lines)
    assert any(ln.startswith("Agent:") and ln.endswith("[interrupted by you]") for ln in lines)
    # The spoken turn (its words as the emulator's recogniser heard them) before the call.
    spoken = next(i for i, ln in enumerate(lines) if ln.startswith("You: "))
    assert spoken < next(i for i, ln in enumerate(lines) if ln.startswith("Tool: tool call"))
