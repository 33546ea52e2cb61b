"""The events of the emulated agent's activity: function calls, MCP calls and approvals,
web and file searches with their citation, and ``rate_limits.updated``.

Orders follow the service's documented flows (see the project's Voice Live event notes):
a function call ends its response; the agent speaks again only after the client's
``function_call_output`` item and ``response.create``. An MCP call's arguments stream in
its response, which ends with the approval request when one is needed; the call itself
runs after ``response.done`` (at once, or on an approving ``mcp_approval_response``) and
ends with ``response.output_item.done`` carrying the output; the client then sends
``response.create`` for the spoken answer (or, denied, the spoken refusal).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import quote_plus

from azure.ai.voicelive import models as m

from .state import StoredConversation, StoredItem, new_id
from .tools import McpCallPlan, Plan, SearchPlan, mcp_output, quote
from .wording import mcp_answer, tool_answer


class ActiveResponse(Protocol):
    """What the streaming helpers here need of the response they stream into
    (:class:`~voicelive_tui.emulator.responder.ActiveResponse`), without importing it."""

    id: str
    session: dict[str, Any]
    conversation: StoredConversation
    outputs: list[Any]
    mcp_calls_to_run: list[StoredItem]

    async def send(self, event: m.ServerEvent) -> bool: ...

    async def pause(self, ms: float) -> bool: ...


__all__ = [
    "ARGUMENT_CHUNK",
    "TOKEN_LIMIT",
    "rate_limits_event",
    "run_mcp_call",
    "stream_search",
    "stream_tool_calls",
    "tool_reply",
    "wire_tool_item",
]

ARGUMENT_CHUNK = 8
"""Characters per arguments delta."""
ARGUMENT_DELTA_MS = 20
MCP_CALL_MS = 300
SEARCH_MS = 400
REQUEST_LIMIT = 1000
TOKEN_LIMIT = 50_000

SendFn = Callable[[m.ServerEvent], Awaitable[bool]]


def wire_tool_item(item: StoredItem) -> Any:
    """The SDK model of a stored tool item, as ``conversation.item.*`` events show it."""
    d = {k: v for k, v in item.data.items() if not k.startswith("_")}
    common: dict[str, Any] = {"id": item.id, "object": "realtime.item"}
    kind = item.kind
    if kind == "function_call":
        return m.ResponseFunctionCallItem(**common, **d)
    if kind == "function_call_output":
        return m.ResponseFunctionCallOutputItem(**common, **d)
    if kind == "mcp_call":
        return m.ResponseMCPCallItem(**common, **d)
    if kind == "mcp_approval_request":
        return m.ResponseMCPApprovalRequestItem(**common, **d)
    if kind == "mcp_approval_response":
        return m.ResponseMCPApprovalResponseItem(**common, **d)
    if kind == "mcp_list_tools":
        return m.ResponseMCPListToolItem(**common, **d)
    if kind == "web_search_call":
        return m.ResponseWebSearchCallItem(**common, **d)
    return m.ResponseFileSearchCallItem(**common, **d)


def rate_limits_event(conversation: StoredConversation, token_limit: int) -> m.ServerEvent:
    """``rate_limits.updated`` (not in the SDK's enum: it arrives as a plain ServerEvent):
    the responses and the tokens this conversation's ``response.done`` reported so far,
    counted against made-up limits (``token_limit``: the ``rate-limit-tokens`` fault)."""
    return m.ServerEvent(
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {
                    "name": "requests",
                    "limit": REQUEST_LIMIT,
                    "remaining": max(0, REQUEST_LIMIT - conversation.responses - 1),
                    "reset_seconds": 60.0,
                },
                {
                    "name": "tokens",
                    "limit": token_limit,
                    "remaining": max(0, token_limit - conversation.spent_tokens),
                    "reset_seconds": 60.0,
                },
            ],
        }
    )


def _pieces(arguments: str) -> list[str]:
    return [arguments[i : i + ARGUMENT_CHUNK] for i in range(0, len(arguments), ARGUMENT_CHUNK)]


async def _add_output(resp: ActiveResponse, item: StoredItem, output_index: int) -> bool:
    """``response.output_item.added`` and ``conversation.item.created`` of a tool item."""
    previous = resp.conversation.last_id()
    resp.conversation.items.append(item)
    if not await resp.send(
        m.ServerEventResponseOutputItemAdded(
            response_id=resp.id, output_index=output_index, item=wire_tool_item(item)
        )
    ):
        return False
    return await resp.send(
        m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_tool_item(item))
    )


async def _stream_function_call(resp: ActiveResponse, name: str, arguments: str) -> bool:
    output_index = len(resp.outputs)
    item = StoredItem(
        id=new_id("item"),
        role="tool",
        kind="function_call",
        status="in_progress",
        data={"name": name, "call_id": new_id("call"), "arguments": "", "status": "in_progress"},
    )
    if not await _add_output(resp, item, output_index):
        return False
    ids: dict[str, Any] = {"response_id": resp.id, "item_id": item.id, "output_index": output_index}
    call_id = item.data["call_id"]
    for piece in _pieces(arguments):
        if await resp.pause(ARGUMENT_DELTA_MS):
            item.data["status"] = item.status = "incomplete"
            return False
        if not await resp.send(
            m.ServerEventResponseFunctionCallArgumentsDelta(call_id=call_id, delta=piece, **ids)
        ):
            return False
        item.data["arguments"] += piece
    item.data["status"] = item.status = "completed"
    await resp.send(
        m.ServerEventResponseFunctionCallArgumentsDone(
            call_id=call_id, arguments=arguments, name=name, **ids
        )
    )
    await resp.send(
        m.ServerEventResponseOutputItemDone(
            response_id=resp.id, output_index=output_index, item=wire_tool_item(item)
        )
    )
    resp.outputs.append(wire_tool_item(item))
    return True


async def _stream_mcp_call(resp: ActiveResponse, call: McpCallPlan) -> None:
    output_index = len(resp.outputs)
    item = StoredItem(
        id=new_id("item"),
        role="tool",
        kind="mcp_call",
        status="in_progress",
        data={"server_label": call.server_label, "name": call.name, "arguments": ""},
    )
    item.data["_response_id"], item.data["_output_index"] = resp.id, output_index
    item.data["_output"] = mcp_output(call)
    if not await _add_output(resp, item, output_index):
        return
    ids: dict[str, Any] = {"response_id": resp.id, "item_id": item.id, "output_index": output_index}
    for piece in _pieces(call.arguments):
        if await resp.pause(ARGUMENT_DELTA_MS):
            return
        if not await resp.send(m.ServerEventResponseMcpCallArgumentsDelta(delta=piece, **ids)):
            return
        item.data["arguments"] += piece
    await resp.send(m.ServerEventResponseMcpCallArgumentsDone(arguments=call.arguments, **ids))
    resp.outputs.append(wire_tool_item(item))
    if call.approval:
        request = StoredItem(
            id=new_id("mcpr"),
            role="tool",
            kind="mcp_approval_request",
            data={
                "server_label": call.server_label,
                "name": call.name,
                "arguments": call.arguments,
            },
        )
        request.data["_call_item_id"] = item.id
        item.data["approval_request_id"] = request.id
        previous = resp.conversation.last_id()
        resp.conversation.items.append(request)
        await resp.send(
            m.ServerEventConversationItemCreated(
                previous_item_id=previous, item=wire_tool_item(request)
            )
        )
    else:
        resp.mcp_calls_to_run.append(item)


async def stream_tool_calls(resp: ActiveResponse, plan: Plan) -> None:
    """The function calls (or the MCP call) of ``plan``, as output items of ``resp``."""
    for call in plan.functions:
        if not await _stream_function_call(resp, call.name, call.arguments):
            return
    if plan.mcp is not None:
        await _stream_mcp_call(resp, plan.mcp)


async def run_mcp_call(
    send: SendFn, item: StoredItem, pause: Callable[[float], Awaitable[None]]
) -> None:
    """Run an (approved, or approval-free) MCP call after its response ended."""
    ids = {"item_id": item.id, "output_index": item.data["_output_index"]}
    if not await send(m.ServerEventResponseMcpCallInProgress(**ids)):
        return
    await pause(MCP_CALL_MS)
    item.data["output"] = item.data["_output"]
    item.status = "completed"
    if not await send(m.ServerEventResponseMcpCallCompleted(**ids)):
        return
    await send(
        m.ServerEventResponseOutputItemDone(
            response_id=item.data["_response_id"],
            output_index=item.data["_output_index"],
            item=wire_tool_item(item),
        )
    )


async def stream_search(
    resp: ActiveResponse, search: SearchPlan
) -> tuple[str, dict[str, Any]] | None:
    """A web or file search as output 0 of ``resp``; the answer and its citation (None if
    the response was cancelled meanwhile)."""
    output_index = len(resp.outputs)
    web = search.kind == "web"
    data: dict[str, Any] = {"status": "in_progress"}
    if not web:
        data["queries"] = [search.query]
    item = StoredItem(
        id=new_id("ws" if web else "fs"),
        role="tool",
        kind="web_search_call" if web else "file_search_call",
        status="in_progress",
        data=data,
    )
    if not await _add_output(resp, item, output_index):
        return None
    ids: dict[str, Any] = {"response_id": resp.id, "item_id": item.id, "output_index": output_index}
    steps = (
        (
            m.ServerEventResponseWebSearchCallInProgress,
            m.ServerEventResponseWebSearchCallSearching,
            m.ServerEventResponseWebSearchCallCompleted,
        )
        if web
        else (
            m.ServerEventResponseFileSearchCallInProgress,
            m.ServerEventResponseFileSearchCallSearching,
            m.ServerEventResponseFileSearchCallCompleted,
        )
    )
    for number, step in enumerate(steps, start=1):
        if number > 1 and await resp.pause(SEARCH_MS / 2):
            item.data["status"] = "incomplete" if not web else "failed"
            return None
        item.data["status"] = ("in_progress", "searching", "completed")[number - 1]
        if not await resp.send(step(sequence_number=number, **ids)):
            return None
    title = f"{search.query} (emulated result)"
    if web:
        source = f'"{title}"'
        annotation: dict[str, Any] = {
            "type": "url_citation",
            "url": f"https://example.com/search?q={quote_plus(search.query)}",
            "title": title,
        }
    else:
        filename = "emulator-handbook.md"
        source = f"the file {filename}"
        annotation = {"type": "file_citation", "file_id": new_id("file"), "filename": filename}
        if "file_search_call.results" in (resp.session.get("include") or []):
            item.data["results"] = [
                {
                    "file_id": annotation["file_id"],
                    "filename": filename,
                    "score": 0.9,
                    "text": f"The handbook's section on {search.query}.",
                }
            ]
    item.status = "completed"
    await resp.send(
        m.ServerEventResponseOutputItemDone(
            response_id=resp.id, output_index=output_index, item=wire_tool_item(item)
        )
    )
    resp.outputs.append(wire_tool_item(item))
    where = "the web" if web else "your files"
    text = (
        f"I searched {where} for {quote(search.query, 80)}. According to {source}, it is answered."
    )
    start = text.index(source)
    if web:
        annotation.update(start_index=start, end_index=start + len(source))
    else:
        annotation["index"] = start
    return text, annotation


def _find(conversation: StoredConversation, kind: str, **match: Any) -> StoredItem | None:
    for item in reversed(conversation.items):
        if item.kind == kind and all(item.data.get(k) == v for k, v in match.items()):
            return item
    return None


def _mcp_answer(call: StoredItem) -> str:
    name, label = call.data.get("name"), call.data.get("server_label")
    if "output" in call.data:
        return mcp_answer(str(name), str(label), str(call.data["output"] or ""))
    return f"{name} on {label} is still running."


def tool_reply(conversation: StoredConversation) -> tuple[str, None] | None:
    """What to say when the conversation ends with tool activity (None: it does not)."""
    items = conversation.items
    last = items[-1] if items else None
    if last is None or last.role != "tool":
        return None
    if last.kind == "function_call_output":
        outputs: list[StoredItem] = []
        for item in reversed(items):
            if item.kind != "function_call_output":
                break
            outputs.insert(0, item)
        said = []
        for out in outputs:
            call = _find(conversation, "function_call", call_id=out.data.get("call_id"))
            tool = str(call.data.get("name")) if call else "tool"
            arguments = str(call.data.get("arguments") or "") if call else ""
            said.append(tool_answer(tool, arguments, out.data.get("output") or ""))
        return " ".join(said), None
    if last.kind == "function_call":
        return f"I am waiting for the result of {last.data.get('name')}.", None
    if last.kind == "mcp_approval_request":
        name, label = last.data.get("name"), last.data.get("server_label")
        return f"I need your approval to run {name} on {label}.", None
    if last.kind == "mcp_approval_response":
        request_id = last.data.get("approval_request_id")
        call = _find(conversation, "mcp_call", approval_request_id=request_id)
        if call is None:
            return None
        if not last.data.get("approve"):
            name, label = call.data.get("name"), call.data.get("server_label")
            return f"I did not run {name} on {label}, because you did not approve it.", None
        return _mcp_answer(call), None
    if last.kind == "mcp_call":
        return _mcp_answer(last), None
    return None


def parse_tool_item(raw: dict[str, Any]) -> StoredItem:
    """A client's ``function_call_output`` or ``mcp_approval_response`` item (validated by
    the caller's ``require``)."""
    kind = raw["type"]
    if kind == "function_call_output":
        output = raw.get("output")
        data = {"call_id": raw["call_id"], "output": output if isinstance(output, str) else ""}
        return StoredItem(id=raw.get("id") or new_id("item"), role="tool", kind=kind, data=data)
    data = {"approval_request_id": raw["approval_request_id"], "approve": raw["approve"]}
    return StoredItem(id=raw.get("id") or new_id("item"), role="tool", kind=kind, data=data)


def list_tools_item(server: dict[str, Any], tools: list[dict[str, Any]] | None) -> StoredItem:
    """The ``mcp_list_tools`` item of one MCP server (tools filled in when listed)."""
    data: dict[str, Any] = {"server_label": server["server_label"], "tools": tools or []}
    return StoredItem(id=new_id("mcpl"), role="tool", kind="mcp_list_tools", data=data)
