"""NO_COLOR (issue 27) in a real terminal: the dashboard writes no colour escape at all
(Textual's default greys everything: thousands of 256-colour sequences), and still marks
what colour marked with bold and reverse."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from tests.helpers import CLI, REPO
from tests.ssh.tmux import Pane, missing_tmux

pytestmark = pytest.mark.skipif(missing_tmux() is not None, reason=str(missing_tmux()))

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
COLOUR_CODES = {38, 48, *range(30, 38), *range(40, 48), *range(90, 98), *range(100, 108)}


def colour_sequences(written: str) -> list[str]:
    """The SGR sequences that set a colour (foreground or background, any depth)."""
    found = []
    for params in SGR.findall(written):
        codes = {int(p) for p in params.replace(":", ";").split(";") if p.isdigit()}
        if codes & COLOUR_CODES:
            found.append(params)
    return found


def attributes(written: str) -> set[int]:
    return {int(p) for ps in SGR.findall(written) for p in ps.split(";") if p.isdigit()}


def test_no_color_writes_no_colour(tmp_path: Path) -> None:
    line = shlex.join([*CLI, "--demo", "--no-audio", "--log-dir", str(tmp_path / "logs")])
    env = {"PYTHONPATH": str(REPO), "TERM": "xterm-256color", "NO_COLOR": "1"}
    pane = Pane(line, size=(120, 36), env=env, where=tmp_path)
    out = tmp_path / "tty.out"
    try:
        pane.pipe(out)
        pane.wait_for("Agent", 30)
        pane.keys("t")
        # Typed before the box has the focus, the letters would be keys ("o", "l", "e").
        pane.wait_for("message to the agent", 20)
        pane.type("hello there")
        pane.keys("Enter")
        pane.wait_for("You  (typed)", 30)
        pane.keys("Up")  # the event stream's cursor: reverse instead of a background colour
        deadline = time.monotonic() + 10
        while 7 not in attributes(out.read_text(errors="replace")):
            assert time.monotonic() < deadline, "no reverse video written"
            time.sleep(0.1)  # polling a file another process writes
        pane.keys("q")
        pane.wait_for("EXIT=0", 20)
    finally:
        pane.close()
    written = out.read_text(errors="replace")
    assert colour_sequences(written) == [], colour_sequences(written)[:5]
    assert {1, 7} <= attributes(written)  # bold and reverse carry what colour did
