"""--tools FILE, --tool-command and --tool-output: loading, validation (one line, exit 2),
the session config they add, and how a tool command's answers and failures become outputs."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from voicelive_tui import cli
from voicelive_tui.config.resolve import EXIT_CONFIG, build_parser, settings_from_args
from voicelive_tui.session.service_config import build_session_config
from voicelive_tui.session.tool_calls import function_calls, run_tool_command

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PY = shlex.quote(sys.executable)


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, data: object) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_tools_file_goes_into_the_session_config(in_tmp: Path) -> None:
    tools = write(in_tmp / "tools.json", {"tools": [WEATHER], "tool_choice": "get_weather"})
    argv = ["--endpoint", "http://127.0.0.1:1", "--api-key", "k", "--tools", tools]
    s = settings_from_args(build_parser().parse_args([*argv, "--tool-output", '{"ok": 1}']), {})
    config = build_session_config(s).as_dict()
    assert config["tools"] == [WEATHER]
    assert config["tool_choice"] == {"type": "function", "name": "get_weather"}


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ("[", ["--tool-output", "{}"], "cannot use --tools T: not valid JSON (line 1: "),
        ([], ["--tool-output", "{}"], "cannot use --tools T: expected a non-empty list"),
        ([{"name": ""}], ["--tool-output", "{}"], "cannot use --tools T: tool 1 has no name"),
        (
            [{"type": "mcp", "name": "x"}],
            ["--tool-output", "{}"],
            "cannot use --tools T: tool 1 (mcp) has no server_label",
        ),
        (
            [{"type": "code_interpreter"}],
            ["--tool-output", "{}"],
            "cannot use --tools T: tool 1 has type 'code_interpreter'",
        ),
        ([WEATHER], [], "--tools needs --tool-command CMD or --tool-output JSON"),
        ([WEATHER], ["--tool-output", "sunny"], "--tool-output must be JSON"),
        ([WEATHER], ["--tool-command", "no-such-tool-xyz"], "--tool-command: program not found"),
        (
            [WEATHER],
            ["--tool-command", "cat", "--tool-output", "{}"],
            "use --tool-command or --tool-output, not both",
        ),
        (
            [WEATHER],
            ["--tool-output", "{}", "--agent-name", "a", "--project-name", "p"],
            "--tools is for model mode",
        ),
    ],
)
def test_bad_tool_settings_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, content, extra, message
) -> None:
    write(in_tmp / "T", content)
    code = cli.main(["--endpoint", "http://127.0.0.1:1", "--tools", "T", *extra])
    err = capsys.readouterr().err.splitlines()
    assert code == EXIT_CONFIG
    assert len(err) == 1 and err[0].startswith(f"voicelive-tui: error: {message}"), err


def test_mcp_servers_need_no_tool_command(in_tmp: Path) -> None:
    server = {"type": "mcp", "server_label": "deepwiki", "server_url": "https://x.example/mcp"}
    tools = write(in_tmp / "mcp.json", [server])
    argv = ["--endpoint", "http://127.0.0.1:1", "--tools", tools, "--auto-approve", "deepwiki"]
    s = settings_from_args(build_parser().parse_args([*argv, "--auto-approve", "docs"]), {})
    assert s.auto_approve == ("deepwiki", "docs")
    config = build_session_config(s).as_dict()
    assert config["tools"] == [{**server, "require_approval": "always"}]


def test_tool_command_without_tools_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--endpoint", "http://127.0.0.1:1", "--tool-command", "cat"])
    err = capsys.readouterr().err.splitlines()
    assert code == EXIT_CONFIG
    assert err == ["voicelive-tui: error: --tool-command and --tool-output need --tools FILE"]


def test_only_completed_function_calls_are_answered() -> None:
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    message = {"type": "message", "role": "assistant"}
    done = {"type": "response.done", "response": {"status": "completed", "output": [call, message]}}
    assert function_calls(done) == [call]
    cancelled = {"type": "response.done", "response": {"status": "cancelled", "output": [call]}}
    assert function_calls(cancelled) == []


CALL = {
    "type": "function_call",
    "call_id": "c1",
    "name": "get_weather",
    "arguments": '{"city": "Oslo"}',
}


async def test_tool_command_gets_the_call_and_its_json_is_the_output(in_tmp: Path) -> None:
    script = write(
        in_tmp / "tool.py",
        "import json, sys\n"
        "call = json.load(sys.stdin)\n"
        "print(json.dumps({'city': call['arguments']['city'], 'name': call['name'],"
        " 'call_id': call['call_id']}))\n",
    )
    output, problem = await run_tool_command(f"{PY} {script}", CALL, timeout=20)
    assert problem == ""
    assert json.loads(output) == {"city": "Oslo", "name": "get_weather", "call_id": "c1"}


@pytest.mark.parametrize(
    "code, problem",
    [
        (
            "import sys; print('boom', file=sys.stderr); sys.exit(3)",
            "tool command exited with 3: boom",
        ),
        ("print('not json')", "tool command did not print JSON"),
        ("import time; time.sleep(30)", "tool command took longer than 0.5 s"),
    ],
)
async def test_a_failing_tool_command_answers_with_an_error_output(
    in_tmp: Path, code: str, problem: str
) -> None:
    script = write(in_tmp / "bad.py", code)
    timeout = 0.5 if "sleep" in code else 20
    output, said = await run_tool_command(f"{PY} {script}", CALL, timeout=timeout)
    assert said == problem
    assert json.loads(output) == {"error": problem}
