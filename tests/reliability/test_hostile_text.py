"""A hostile endpoint cannot drive the user's terminal (issue 18).

The real ``voicelive-tui`` runs on a pseudo-terminal, in console mode and as the
dashboard, against the ``hostile`` server of :mod:`tests.reliability.badserver`
(:mod:`tests.reliability.hostile`), which puts control sequences in
every text field. The raw bytes the terminal received hold none of them; the server's
text is still shown (with the controls made visible), the conversation log, the
technical log, the Markdown export and ``events.jsonl`` hold no raw control character,
and ``events.jsonl`` keeps the exact wire text.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.helpers import wait_until
from tests.reliability.badserver import bad_server
from tests.reliability.harness import Terminal, client_args, events, read_logs, received_types
from tests.reliability.hostile import HOSTILE, raw_counts, script

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What no human-readable file may hold (newline and tab are its own)."""
NET = ("--no-audio", "--retry-max", "0.2")
SCRIPT_PLAYS = 2
"""The first connection ends with a hostile close reason; the second plays it again."""
DONE_PER_PLAY = sum(e["type"] == "response.done" for e in script())


def assert_files_clean(log_dir: Path) -> None:
    files = read_logs(log_dir)
    assert "HOSTILE" in files["conversation.log"], files["conversation.log"]
    for name, text in files.items():
        found = sorted({repr(c) for c in RAW_CONTROL.findall(text)})
        assert not found, f"{name} holds raw {found}"
    # The exact wire text stays in the events log (as JSON escapes).
    transcripts = [
        e["event"].get("transcript")
        for e in events(log_dir)
        if e.get("event", {}).get("type") == "response.audio_transcript.done"
    ]
    assert transcripts and transcripts[0] == "Agent: " + HOSTILE


def approval_sent(log_dir: Path) -> bool:
    return any(
        e.get("direction") == "sent"
        and (e["event"].get("item") or {}).get("type") == "mcp_approval_response"
        for e in events(log_dir)
    )


async def wait_for_redraw(term: Terminal, keys: str, text: str) -> None:
    """Send ``keys`` and wait until ``text`` is drawn after them."""
    start = len(term.output)
    term.send(keys)
    await wait_until(lambda: text.encode() in term.output[start:], 20.0, f"{text!r} drawn")


async def played(log_dir: Path) -> None:
    await wait_until(
        lambda: received_types(log_dir).count("response.done") >= SCRIPT_PLAYS * DONE_PER_PLAY,
        30.0,
        "the hostile script played twice",
    )


async def test_console_mode_writes_no_server_sequence(tmp_path: Path) -> None:
    async with bad_server("hostile") as srv:
        term = await Terminal.start("--no-tui", *client_args(srv.endpoint, tmp_path, *NET))
        try:
            await played(tmp_path)
            await term.wait_output("Agent responded with audio transcript")
            await term.wait_output("Warn «")
            term.signal(signal.SIGINT)
            code = await term.wait(10)
        finally:
            term.kill()
    assert code == 0, term.text[-2000:]
    counts = raw_counts(bytes(term.output))
    assert counts == {}, f"server sequences on the terminal: {counts}"
    # Shown, made visible: the escape as text, not as an escape.
    assert "Agent responded with audio transcript:\tAgent: «\\x1b]0;HOSTILE-TITLE" in term.text
    assert_files_clean(tmp_path)


async def test_dashboard_writes_no_server_sequence(tmp_path: Path) -> None:
    async with bad_server("hostile") as srv:
        term = await Terminal.start(*client_args(srv.endpoint, tmp_path, *NET), size=(140, 45))
        try:
            await played(tmp_path)
            await term.wait_output("HOSTILE-TITLE")
            await term.wait_output("Approve MCP call?")
            term.send("n")  # deny the hostile MCP call
            await wait_until(lambda: approval_sent(tmp_path), 10.0, "the denial sent")
            # The unknown event's line, and its JSON; each key once the last one is seen.
            await wait_for_redraw(term, "/", "filter: type prefix")
            await wait_for_redraw(term, "x.unknown", "x.unknown")
            term.send("\r")
            await term.wait_output("Event JSON")  # the stream has the focus
            term.send("\r")
            await term.wait_output("Esc to close")
            # q closes it (Esc would need the terminal's escape timeout before the next key).
            await wait_for_redraw(term, "q", "Event JSON")
            term.send("e")  # export the conversation as Markdown
            await wait_until(
                lambda: any(tmp_path.glob("*_conversation.md")), 10.0, "the Markdown export"
            )
            term.send("q")
            code = await term.wait(10)
        finally:
            term.kill()
    assert code == 0
    counts = raw_counts(bytes(term.output))
    assert counts == {}, f"server sequences on the terminal: {counts}"
    assert "\\x1b]0;HOSTILE-TITLE" in term.text
    assert_files_clean(tmp_path)
