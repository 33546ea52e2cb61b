"""--tools with --tool-command in console mode: a spoken turn makes the emulated agent call
the tool, the command answers it, and the agent speaks the result."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tests.helpers import run_console_here, wav_turn_args
from tests.integration.session_helpers import TEST_KEY

TOOL = """\
import json, sys
call = json.load(sys.stdin)
with open(sys.argv[1], "a", encoding="utf-8") as seen:
    seen.write(json.dumps(call) + "\\n")
print(json.dumps({"temp": 21}))
"""


WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def test_function_call_answered_by_the_tool_command(
    emulator, speech_wav: Path, tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    # "required": every turn calls the tool, spoken ones too (the emulator's trigger).
    tools.write_text(json.dumps({"tools": [WEATHER], "tool_choice": "required"}))
    script, seen, logs = tmp_path / "tool.py", tmp_path / "seen.jsonl", tmp_path / "logs"
    script.write_text(TOOL)
    command = f"{shlex.quote(sys.executable)} {script} {seen}"
    code, out, err = await run_console_here(
        *wav_turn_args(emulator.endpoint, TEST_KEY, speech_wav, tmp_path),
        "--tools",
        str(tools),
        "--tool-command",
        command,
    )
    assert code == 0, err
    (call,) = [json.loads(line) for line in seen.read_text().splitlines()]
    assert call["name"] == "get_weather" and call["call_id"].startswith("call_")
    assert call["arguments"] == {"city": "example"}  # a spoken turn names no city
    lines = out.splitlines()
    answer = next(line for line in lines if line.startswith("🤖 Agent responded"))
    call_line = lines.index('🔧 Tool Call: get_weather({"city": "example"})')
    assert (
        call_line < lines.index('🔧 Tool Result: get_weather -> {"temp": 21}') < lines.index(answer)
    )
    assert answer.endswith("Here is the weather for example: the temp is 21."), out
    log = next(logs.glob("*_conversation.log")).read_text(encoding="utf-8").splitlines()
    body = [line.split("\t")[0] for line in log if "\t" in line]
    assert body == ["User Input:", "Tool Call:", "Tool Result:", "Agent Audio Response:"], log
    assert 'Tool Call:\tget_weather({"city": "example"})' in log
    session = emulator.latest.session
    assert [t["name"] for t in session["tools"]] == ["get_weather"]
    assert session["tool_choice"] == "required"


async def test_a_spoken_weather_question_calls_the_weather_tool_with_tool_choice_auto(
    emulator, espeak_wav, tmp_path: Path
) -> None:
    """The emulator hears the words: "What's the weather in Seattle?" names get_weather's
    purpose, so with ``tool_choice: "auto"`` the spoken turn calls it (issue 21)."""
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"tools": [WEATHER], "tool_choice": "auto"}))
    script, seen = tmp_path / "tool.py", tmp_path / "seen.jsonl"
    script.write_text(TOOL)
    command = f"{shlex.quote(sys.executable)} {script} {seen}"
    question = espeak_wav("What's the weather in Seattle?", 140)
    code, out, err = await run_console_here(
        *wav_turn_args(emulator.endpoint, TEST_KEY, question, tmp_path),
        "--tools",
        str(tools),
        "--tool-command",
        command,
    )
    assert code == 0, err
    (call,) = [json.loads(line) for line in seen.read_text().splitlines()]
    assert call["name"] == "get_weather"
    said = next(line for line in out.splitlines() if line.startswith("👤 You said:\t"))
    assert "weather" in said, out
