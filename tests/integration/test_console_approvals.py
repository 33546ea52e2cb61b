"""MCP approvals in console mode: a trusted server (--auto-approve) runs without asking; with
stdin not a terminal, any other call is denied with a notice, and the agent says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import mcp_tools_file, run_console_here, wav_turn_args
from tests.integration.session_helpers import TEST_KEY


@pytest.mark.parametrize("trusted", [True, False])
async def test_mcp_approval_in_console_mode(
    emulator, speech_wav: Path, tmp_path: Path, trusted: bool
) -> None:
    logs = tmp_path / "logs"
    trust = ["--auto-approve", "deepwiki"] if trusted else []
    code, out, err = await run_console_here(
        *wav_turn_args(emulator.endpoint, TEST_KEY, speech_wav, tmp_path),
        "--tools",
        str(mcp_tools_file(tmp_path)),
        *trust,
    )
    assert code == 0, err
    answer = next(line for line in out.splitlines() if line.startswith("🤖 Agent responded"))
    log = next(logs.glob("*_conversation.log")).read_text(encoding="utf-8")
    kinds = [line.split("\t")[0] for line in log.splitlines() if "\t" in line]
    if trusted:
        assert "I asked deepwiki with ask question, and it says:" in answer, out
        assert "Denied" not in out
        assert kinds == [
            "User Input:",
            "Tool Call:",
            "Approval:",
            "Approval:",
            "Tool Result:",
            "Agent Audio Response:",
        ], log
        assert "Approval:\tapproved deepwiki.ask_question(" in log
    else:
        assert "did not approve" in answer, out
        assert "Denied MCP call deepwiki.ask_question(" in out
        assert "--auto-approve deepwiki" in out
        assert kinds == [
            "User Input:",
            "Tool Call:",
            "Approval:",
            "Approval:",
            "Agent Audio Response:",
        ], log
        assert "Approval:\tdenied deepwiki.ask_question(" in log
        assert "response.mcp_call.in_progress" not in emulator.latest.sent


async def test_console_mode_asks_on_a_terminal_and_a_yes_runs_the_call(
    emulator, speech_wav: Path, tmp_path: Path
) -> None:
    """stdin a terminal: the console asks, the user types y, the call runs and is answered."""
    from tests.reliability.harness import Terminal

    logs = tmp_path / "logs"
    term = await Terminal.start(
        *wav_turn_args(emulator.endpoint, TEST_KEY, speech_wav, tmp_path),
        "--tools",
        str(mcp_tools_file(tmp_path)),
    )
    try:
        await term.wait_output("Approve MCP call deepwiki.ask_question", 30)
        term.send("y\r")
        assert await term.wait(30) == 0
    finally:
        term.kill()
    assert "I asked deepwiki with ask question, and it says:" in term.text, term.text
    log = next(logs.glob("*_conversation.log")).read_text(encoding="utf-8")
    assert "Approval:" in log and "approved" in log.lower()
