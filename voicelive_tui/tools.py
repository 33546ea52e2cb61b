"""Function tools in model mode: ``--tools FILE``, answered by ``--tool-command`` or
``--tool-output``, so a tool-using voice flow can be tried from the terminal; and MCP
approvals (``--auto-approve LABEL``) with the follow-up the service needs.

The file holds a JSON list of tools in the SDK's FunctionTool shape (``name``,
``description``, ``parameters``; ``type`` defaults to ``"function"``) or MCPServer shape
(``type: "mcp"``, ``server_label``, ``server_url``, ``allowed_tools``,
``require_approval``), or an object ``{"tools": [...], "tool_choice": ...}``. When a
response ends with function calls, each is answered (a ``function_call_output`` item) and
then a ``response.create`` asks the agent to go on, as the service requires. The command
gets ``{"name", "arguments", "call_id"}`` as JSON on stdin and prints the output as JSON
on stdout.
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
    MCPApprovalResponseRequestItem,
)

from voicelive_tui.updates import Severity

__all__ = [
    "TOOL_TIMEOUT_S",
    "McpApprovals",
    "ToolSet",
    "answer_function_calls",
    "function_calls",
    "load_tools",
]

TOOL_TIMEOUT_S = 30.0
MAX_TOOLS_FILE_BYTES = 1024 * 1024
TOOL_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True)
class ToolSet:
    tools: tuple[dict[str, Any], ...]
    tool_choice: str | dict[str, Any] | None = None


def _check_mcp_server(where: str, tool: dict[str, Any]) -> dict[str, Any]:
    label, url = tool.get("server_label"), tool.get("server_url")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{where} (mcp) has no server_label")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError(f"{where} ({label}): server_url must be an http(s) URL")
    allowed = tool.get("allowed_tools")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
    ):
        raise ValueError(f"{where} ({label}): allowed_tools must be a list of names")
    approval = tool.get("require_approval", "always")
    if approval not in ("always", "never") and not isinstance(approval, dict):
        raise ValueError(f"{where} ({label}): require_approval must be always, never or an object")
    server: dict[str, Any] = {"type": "mcp", "server_label": label, "server_url": url}
    server["require_approval"] = approval
    if allowed is not None:
        server["allowed_tools"] = allowed
    return server


def _check_tool(i: int, tool: Any) -> dict[str, Any]:
    where = f"tool {i + 1}"
    if not isinstance(tool, dict):
        raise ValueError(f"{where} is not an object")
    if tool.get("type") == "mcp":
        return _check_mcp_server(where, tool)
    if tool.get("type", "function") != "function":
        raise ValueError(f"{where} has type {tool.get('type')!r}; expected 'function' or 'mcp'")
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
    names = [t["name"] for t in tools if t["type"] == "function"]
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


def has_functions(tools: tuple[dict[str, Any], ...]) -> bool:
    """True when some of ``tools`` are function tools (calls to answer)."""
    return any(t.get("type") == "function" for t in tools)


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
    notice: Callable[[str, Severity], None],
) -> None:
    """Answer each call (command or fixed output), then ask the agent to go on."""
    for call in calls:
        if command is not None:
            output, problem = await run_tool_command(command, call, TOOL_TIMEOUT_S)
            if problem:
                notice(f"Tool {call.get('name')}: {problem}", Severity.WARNING)
        else:
            output = fixed_output or "{}"
        item = FunctionCallOutputItem(call_id=call["call_id"], output=output)
        if not await send(ClientEventConversationItemCreate(item=item)):
            return
    await send(ClientEventResponseCreate())


class McpApprovals:
    """MCP calls from the client's side: approvals (automatic for trusted server labels)
    and the ``response.create`` that makes the agent speak a call's result or a refusal,
    sent at once or, while a response is active, once it is done."""

    def __init__(
        self,
        auto_approve: tuple[str, ...],
        send: Callable[[ClientEvent], Awaitable[bool]],
        response_active: Callable[[], bool],
    ) -> None:
        self.auto_approve = auto_approve
        self._send = send
        self._response_active = response_active
        self._go_on_when_done = False

    def is_trusted(self, item: dict[str, Any]) -> bool:
        """True when an approval request's server is approved without asking."""
        return item.get("server_label") in self.auto_approve

    async def on_event(self, payload: dict[str, Any]) -> None:
        """Follow one received event (after the conversation reduced it)."""
        kind, raw = payload.get("type"), payload.get("item")
        item: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if kind == "conversation.item.created" and item.get("type") == "mcp_approval_request":
            if self.is_trusted(item) and isinstance(item.get("id"), str):
                await self.answer(item["id"], True)
        elif kind == "response.output_item.done" and item.get("type") == "mcp_call":
            if item.get("output") is not None or item.get("error"):
                await self._go_on()
        elif kind == "response.done" and self._go_on_when_done:
            self._go_on_when_done = False
            await self._send(ClientEventResponseCreate())

    async def answer(self, request_id: str, approve: bool) -> None:
        """Answer an approval request; after a denial the agent is asked to go on at once."""
        item = MCPApprovalResponseRequestItem(approval_request_id=request_id, approve=approve)
        if await self._send(ClientEventConversationItemCreate(item=item)) and not approve:
            await self._go_on()

    async def _go_on(self) -> None:
        if self._response_active():
            self._go_on_when_done = True
        else:
            await self._send(ClientEventResponseCreate())
