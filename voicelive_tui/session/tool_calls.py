"""Function tools and MCP approvals at run time: when a response ends with function
calls, each is answered (a ``function_call_output`` item) by ``--tool-command`` or
``--tool-output`` and then a ``response.create`` asks the agent to go on, as the service
requires; MCP approvals (``--auto-approve LABEL``) with the follow-up the service needs.
The command gets ``{"name", "arguments", "call_id"}`` as JSON on stdin and prints the
output as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from azure.ai.voicelive.models import (
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventResponseCreate,
    FunctionCallOutputItem,
    MCPApprovalResponseRequestItem,
)

from voicelive_tui.platform_support import command_argv
from voicelive_tui.updates import Severity

__all__ = [
    "TOOL_TIMEOUT_S",
    "McpApprovals",
    "answer_function_calls",
    "function_calls",
    "run_tool_command",
]

TOOL_TIMEOUT_S = 30.0


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
            *command_argv(command),
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
