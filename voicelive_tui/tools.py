"""Function tools in model mode: ``--tools FILE``, answered by ``--tool-command`` or
``--tool-output``, so a tool-using voice flow can be tried from the terminal.

The file holds a JSON list of tools in the SDK's FunctionTool shape (``name``,
``description``, ``parameters``; ``type`` defaults to ``"function"``), or an object
``{"tools": [...], "tool_choice": ...}``. When a response ends with function calls, each is
answered (a ``function_call_output`` item) and then a ``response.create`` asks the agent to
go on, as the service requires. The command gets ``{"name", "arguments", "call_id"}`` as
JSON on stdin and prints the output as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.voicelive.models import (
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventResponseCreate,
    FunctionCallOutputItem,
)

__all__ = ["TOOL_TIMEOUT_S", "ToolSet", "answer_function_calls", "function_calls", "load_tools"]

TOOL_TIMEOUT_S = 30.0
MAX_TOOLS_FILE_BYTES = 1024 * 1024
TOOL_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True)
class ToolSet:
    tools: tuple[dict[str, Any], ...]
    tool_choice: str | dict[str, Any] | None = None


def _check_tool(i: int, tool: Any) -> dict[str, Any]:
    where = f"tool {i + 1}"
    if not isinstance(tool, dict):
        raise ValueError(f"{where} is not an object")
    if tool.get("type", "function") != "function":
        raise ValueError(f"{where} has type {tool.get('type')!r}; only 'function' tools are run")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} has no name")
    params = tool.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        raise ValueError(f"{where} ({name}): parameters must be a JSON Schema object")
    description = tool.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where} ({name}): description must be a string")
    return {"type": "function", "name": name, "description": description, "parameters": params}


def load_tools(path: Path) -> ToolSet:
    """The tools of ``path``; ValueError with a one-line reason when it cannot be used."""
    try:
        if path.stat().st_size > MAX_TOOLS_FILE_BYTES:
            raise ValueError("larger than 1 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(exc.strerror or exc.__class__.__name__) from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    choice = None
    if isinstance(data, dict):
        choice = data.get("tool_choice")
        data = data.get("tools")
    if not isinstance(data, list) or not data:
        raise ValueError('expected a non-empty list of tools (or {"tools": [...]})')
    tools = tuple(_check_tool(i, tool) for i, tool in enumerate(data))
    names = [t["name"] for t in tools]
    if choice is not None and not (
        choice in TOOL_CHOICES
        or choice in names
        or (isinstance(choice, dict) and choice.get("name") in names)
    ):
        raise ValueError("tool_choice must be auto, none, required or one of the tools' names")
    if isinstance(choice, str) and choice in names:
        choice = {"type": "function", "name": choice}
    return ToolSet(tools, choice)


def function_calls(response_done: dict[str, Any]) -> list[dict[str, Any]]:
    """The completed function calls of a ``response.done`` event, in order."""
    response = response_done.get("response")
    if not isinstance(response, dict) or response.get("status") != "completed":
        return []
    return [
        item
        for item in response.get("output") or []
        if isinstance(item, dict)
        and item.get("type") == "function_call"
        and isinstance(item.get("call_id"), str)
    ]


def _error(message: str) -> str:
    return json.dumps({"error": message})


async def run_tool_command(command: str, call: dict[str, Any], timeout: float) -> tuple[str, str]:
    """(output, problem): the command's JSON answer, or an error output and why."""
    try:
        arguments = json.loads(call.get("arguments") or "{}")
    except ValueError:
        arguments = call.get("arguments")
    request = {"name": call.get("name"), "arguments": arguments, "call_id": call.get("call_id")}
    try:
        proc = await asyncio.create_subprocess_exec(
            *shlex.split(command),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        problem = f"tool command could not start: {exc.strerror or exc}"
        return _error(problem), problem
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(json.dumps(request).encode("utf-8")), timeout
        )
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        problem = f"tool command took longer than {timeout:g} s"
        return _error(problem), problem
    if proc.returncode != 0:
        detail = err.decode("utf-8", "replace").strip().splitlines()
        problem = f"tool command exited with {proc.returncode}" + (
            f": {detail[-1][:200]}" if detail else ""
        )
        return _error(problem), problem
    text = out.decode("utf-8", "replace").strip()
    try:
        json.loads(text)
    except ValueError:
        problem = "tool command did not print JSON"
        return _error(problem), problem
    return text, ""


async def answer_function_calls(
    calls: list[dict[str, Any]],
    *,
    command: str | None,
    fixed_output: str | None,
    send: Callable[[ClientEvent], Awaitable[bool]],
    notice: Callable[[str, str], None],
) -> None:
    """Answer each call (command or fixed output), then ask the agent to go on."""
    for call in calls:
        if command is not None:
            output, problem = await run_tool_command(command, call, TOOL_TIMEOUT_S)
            if problem:
                notice(f"Tool {call.get('name')}: {problem}", "warning")
        else:
            output = fixed_output or "{}"
        item = FunctionCallOutputItem(call_id=call["call_id"], output=output)
        if not await send(ClientEventConversationItemCreate(item=item)):
            return
    await send(ClientEventResponseCreate())
