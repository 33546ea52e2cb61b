"""Pure state of the agent's activity: function calls, MCP calls, approvals and searches.

:class:`ActivityState` reduces server events (and the client's own tool outputs and
approvals) into :class:`ToolActivity` entries, each handed to the conversation so it joins
the turn of the response it belongs to. No I/O and no clocks: times come in with the
events. :func:`describe` and :func:`footnotes` give the conversation panel's lines;
:func:`log_lines` gives the conversation log's ``Tool Call:`` / ``Tool Result:`` /
``Approval:`` lines an event adds, in the order the events happen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voicelive_tui.protocol import ident, obj, preview
from voicelive_tui.safe_text import displayable
from voicelive_tui.updates import Direction

__all__ = [
    "ActivityState",
    "ToolActivity",
    "ToolKind",
    "ToolStatus",
    "describe",
    "duration_text",
    "footnotes",
    "log_lines",
]

ToolKind = Literal["function", "mcp", "approval", "web search", "file search"]
ToolStatus = Literal[
    "calling",
    "running",
    "awaiting approval",
    "searching",
    "completed",
    "failed",
    "cancelled",
    "pending",
    "approved",
    "denied",
]
"""calling (arguments streaming), running, awaiting approval, searching, completed,
failed, cancelled; for an approval: pending, approved, denied."""
ServerState = Literal["listing", "ready", "failed"]
"""An MCP server's tool discovery: under way, done, or failed."""
_LISTED: dict[str, ServerState] = {"completed": "ready", "failed": "failed"}
SEARCH_KINDS: dict[str, ToolKind] = {
    "web_search_call": "web search",
    "file_search_call": "file search",
}
TOOL_ITEMS = ("function_call", "mcp_call", *SEARCH_KINDS)


def _shown(value: Any) -> str:
    """A name, label, argument or output: only ever shown, so stored displayable. Ids stay
    as sent, since they are matched against the wire."""
    return displayable(str(value))


def _label(value: Any) -> str | None:
    return None if ident(value) is None else displayable(value, one_line=True)


@dataclass
class ToolActivity:
    """One call, approval or search of the agent, as the user should see it."""

    kind: ToolKind
    name: str
    started_at: float
    item_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    server_label: str | None = None
    arguments: str = ""
    status: ToolStatus = "calling"
    ended_at: float | None = None
    output: str | None = None
    error: str | None = None
    approval_request_id: str | None = None
    next_audio_at: float | None = None
    """The agent's first audio after this call's result (the span the user waited)."""

    @property
    def duration_ms(self) -> float | None:
        """From the call's start to its result (None while it runs)."""
        return None if self.ended_at is None else (self.ended_at - self.started_at) * 1000

    @property
    def title(self) -> str:
        """``get_weather``, ``deepwiki.ask_question`` or ``web search``."""
        return f"{self.server_label}.{self.name}" if self.server_label else self.name

    @property
    def output_preview(self) -> str | None:
        """The output (or the error) on one short line."""
        if self.error is not None:
            return preview(self.error)
        return None if self.output is None else preview(self.output)

    def end(self, status: ToolStatus, now: float) -> None:
        self.status = status
        if self.ended_at is None:
            self.ended_at = now


Attach = Callable[[ToolActivity], None]
"""Adds a new entry to the turn of its response (the conversation decides which)."""


@dataclass
class ActivityState:
    """Every entry by item id, and what the session's MCP servers and limits look like."""

    entries: dict[str, ToolActivity] = field(default_factory=dict)
    servers: dict[str, ServerState] = field(default_factory=dict)
    """MCP server label -> its tool discovery."""
    rate_limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Limit name -> (remaining, limit), from the newest ``rate_limits.updated``."""
    rate_limit_resets: dict[str, float] = field(default_factory=dict)
    """Limit name -> seconds until it resets, as the newest ``rate_limits.updated`` said."""
    _list_items: dict[str, str] = field(default_factory=dict)

    # -- lookups -----------------------------------------------------------------

    def by_call_id(self, call_id: str | None) -> ToolActivity | None:
        return next((e for e in self.entries.values() if e.call_id and e.call_id == call_id), None)

    def approval(self, request_id: str | None) -> ToolActivity | None:
        entry = self.entries.get(request_id or "")
        return entry if entry is not None and entry.kind == "approval" else None

    def pending_approvals(self) -> list[ToolActivity]:
        """Approval requests not answered yet, oldest first."""
        return [e for e in self.entries.values() if e.kind == "approval" and e.status == "pending"]

    # -- received events -----------------------------------------------------------

    def apply(self, event: dict[str, Any], now: float, attach: Attach) -> None:
        """Reduce one server event (others are ignored)."""
        kind = str(event.get("type", ""))
        if kind in ("response.output_item.added", "conversation.item.created"):
            self._item(obj(event.get("item")), ident(event.get("response_id")), now, attach)
        elif kind == "response.output_item.done":
            self._item_done(obj(event.get("item")), now)
        elif kind.endswith(("function_call_arguments.delta", "mcp_call_arguments.delta")):
            entry = self.entries.get(str(event.get("item_id")))
            if entry is not None and entry.status == "calling":
                entry.arguments += _shown(event.get("delta", ""))
        elif kind.endswith(("function_call_arguments.done", "mcp_call_arguments.done")):
            entry = self.entries.get(str(event.get("item_id")))
            if entry is not None:
                entry.arguments = _shown(event.get("arguments", entry.arguments))
                if entry.status == "calling":
                    entry.status = "running"
        elif kind.startswith("response.mcp_call."):
            self._mcp_progress(kind.rsplit(".", 1)[1], str(event.get("item_id")), now)
        elif kind.startswith(("response.web_search_call.", "response.file_search_call.")):
            entry = self.entries.get(str(event.get("item_id")))
            step = kind.rsplit(".", 1)[1]
            if entry is not None and entry.ended_at is None:
                if step == "completed":
                    entry.end("completed", now)
                else:
                    entry.status = "searching"
        elif kind.startswith("mcp_list_tools."):
            label = self._list_items.get(str(event.get("item_id")))
            if label is not None:
                step = kind.rsplit(".", 1)[1]
                self.servers[label] = _LISTED.get(step, "listing")
        elif kind == "rate_limits.updated":
            for limit in event.get("rate_limits") or []:
                limit = obj(limit)
                if isinstance(limit.get("remaining"), int) and isinstance(limit.get("limit"), int):
                    name = displayable(str(limit.get("name")), one_line=True)
                    self.rate_limits[name] = (limit["remaining"], limit["limit"])
                    reset = limit.get("reset_seconds")
                    if isinstance(reset, (int, float)) and not isinstance(reset, bool):
                        self.rate_limit_resets[name] = float(reset)
        elif kind == "response.done":
            response = obj(event.get("response"))
            if response.get("status") in ("cancelled", "failed", "incomplete"):
                for entry in self.entries.values():
                    rid = ident(response.get("id"))
                    if entry.response_id == rid and entry.status in ("calling", "searching"):
                        entry.end("cancelled", now)

    def _item(
        self, item: dict[str, Any], response_id: str | None, now: float, attach: Attach
    ) -> None:
        item_type, item_id = item.get("type"), ident(item.get("id"))
        if item_id is None:
            return
        if item_type == "mcp_list_tools":
            label = displayable(str(item.get("server_label", "")), one_line=True)
            self._list_items[item_id] = label
            self.servers[label] = "listing"
            return
        if item_type == "mcp_approval_request":
            self._approval_request(item, item_id, now, attach)
            return
        if item_type == "mcp_approval_response":
            self.answer_approval(ident(item.get("approval_request_id")), item.get("approve"), now)
            return
        if item_type not in TOOL_ITEMS or item_id in self.entries:
            return
        if item_type in SEARCH_KINDS:
            queries = [_shown(q) for q in item.get("queries") or [] if isinstance(q, str)]
            entry = ToolActivity(SEARCH_KINDS[item_type], SEARCH_KINDS[item_type], now)
            entry.arguments = "; ".join(queries)
            entry.status = "searching"
        else:
            entry = ToolActivity(
                "function" if item_type == "function_call" else "mcp",
                displayable(str(item.get("name", "?")), one_line=True),
                now,
                call_id=ident(item.get("call_id")),
                server_label=_label(item.get("server_label")),
                arguments=_shown(item.get("arguments") or ""),
            )
        entry.item_id, entry.response_id = item_id, response_id
        self.entries[item_id] = entry
        attach(entry)

    def _approval_request(
        self, item: dict[str, Any], item_id: str, now: float, attach: Attach
    ) -> None:
        if item_id in self.entries:
            return
        label = _label(item.get("server_label"))
        name = displayable(str(item.get("name", "?")), one_line=True)
        call = next(
            (
                e
                for e in reversed(self.entries.values())
                if e.kind == "mcp"
                and e.server_label == label
                and e.name == name
                and e.approval_request_id is None
            ),
            None,
        )
        entry = ToolActivity(
            "approval",
            name,
            now,
            item_id=item_id,
            response_id=call.response_id if call else None,
            server_label=label,
            arguments=_shown(item.get("arguments") or (call.arguments if call else "")),
            status="pending",
            approval_request_id=item_id,
        )
        if call is not None:
            call.approval_request_id = item_id
            call.status = "awaiting approval"
        self.entries[item_id] = entry
        attach(entry)

    def answer_approval(self, request_id: str | None, approve: Any, now: float) -> None:
        """The approval ``request_id`` was answered (by this client, or seen echoed)."""
        entry = self.approval(request_id)
        if entry is None or entry.status != "pending":
            return
        entry.end("approved" if approve is True else "denied", now)
        for call in self.entries.values():
            if call.kind == "mcp" and call.approval_request_id == request_id:
                if approve is True:
                    call.status = "running"
                else:
                    call.end("denied", now)

    def _item_done(self, item: dict[str, Any], now: float) -> None:
        entry = self.entries.get(str(item.get("id")))
        if entry is None:
            return
        if entry.kind == "function":
            entry.arguments = _shown(item.get("arguments") or entry.arguments)
        elif entry.kind == "mcp":
            error = item.get("error")
            if error:
                entry.error = _shown(obj(error).get("message") or error)
                entry.end("failed", now)
            elif item.get("output") is not None:
                entry.output = _shown(item.get("output"))
                entry.end("completed", now)
        elif entry.ended_at is None and item.get("status") in ("completed", "failed"):
            entry.end("completed" if item.get("status") == "completed" else "failed", now)

    def _mcp_progress(self, step: str, item_id: str, now: float) -> None:
        entry = self.entries.get(item_id)
        if entry is None or entry.ended_at is not None:
            return
        if step == "in_progress":
            entry.status = "running"
        elif step == "completed":
            entry.end("completed", now)
        elif step == "failed":
            entry.end("failed", now)

    # -- sent events -------------------------------------------------------------

    def apply_sent(self, event: dict[str, Any], now: float) -> None:
        """The client's own ``function_call_output`` and ``mcp_approval_response`` items."""
        if event.get("type") != "conversation.item.create":
            return
        item = obj(event.get("item"))
        if item.get("type") == "function_call_output":
            entry = self.by_call_id(ident(item.get("call_id")))
            if entry is not None:
                entry.output = _shown(item.get("output") or "")
                entry.end("completed", now)
        elif item.get("type") == "mcp_approval_response":
            self.answer_approval(ident(item.get("approval_request_id")), item.get("approve"), now)


def _call_text(entry: ToolActivity) -> str:
    if entry.kind in SEARCH_KINDS.values():
        return f"{entry.title}: {entry.arguments}" if entry.arguments else entry.title
    return f"{entry.title}({entry.arguments})"


def log_lines(state: ActivityState, direction: Direction, event: dict[str, Any]) -> list[str]:
    """The conversation log lines ``event`` adds, once ``state`` has reduced it."""
    kind = str(event.get("type", ""))
    if direction == "sent":
        item = obj(event.get("item"))
        if kind != "conversation.item.create":
            return []
        if item.get("type") == "function_call_output":
            entry = state.by_call_id(ident(item.get("call_id")))
            name = entry.title if entry else _label(item.get("call_id"))
            return [f"Tool Result:\t{name} -> {preview(item.get('output') or '')}"]
        if item.get("type") == "mcp_approval_response":
            entry = state.approval(ident(item.get("approval_request_id")))
            name = _call_text(entry) if entry else _label(item.get("approval_request_id"))
            verdict = "approved" if item.get("approve") is True else "denied"
            return [f"Approval:\t{verdict} {name}"]
        return []
    entry = state.entries.get(str(event.get("item_id")))
    if kind in ("response.function_call_arguments.done", "response.mcp_call_arguments.done"):
        return [f"Tool Call:\t{_call_text(entry)}"] if entry else []
    if kind in ("response.web_search_call.in_progress", "response.file_search_call.in_progress"):
        return [f"Tool Call:\t{_call_text(entry)}"] if entry else []
    if kind in ("response.web_search_call.completed", "response.file_search_call.completed"):
        return [f"Tool Result:\t{entry.title} -> completed"] if entry else []
    item = obj(event.get("item"))
    if kind == "conversation.item.created" and item.get("type") == "mcp_approval_request":
        request = state.approval(ident(item.get("id")))
        return [f"Approval:\trequested {_call_text(request)}"] if request else []
    if kind == "response.output_item.done" and item.get("type") == "mcp_call":
        call = state.entries.get(str(item.get("id")))
        if call is not None and call.output_preview is not None:
            verdict = "failed: " if call.error is not None else ""
            return [f"Tool Result:\t{call.title} -> {verdict}{call.output_preview}"]
    return []


def _args_text(arguments: str, limit: int = 60) -> str:
    """``city=Paris, unit=c`` from JSON arguments (the text itself when it is not JSON)."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return preview(arguments, limit)
    if isinstance(value, dict):
        return preview(", ".join(f"{k}={v}" for k, v in value.items()), limit)
    return preview(arguments, limit)


def duration_text(ms: float | None) -> str:
    """``340 ms`` or ``1.2 s`` (empty while running)."""
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def describe(entry: ToolActivity) -> str:
    """One line for the conversation panel: ``calling get_weather(city=Paris) … 340 ms``."""
    took = duration_text(entry.duration_ms)
    took = f" · {took}" if took else ""
    if entry.kind == "function":
        call = f"{entry.name}({_args_text(entry.arguments)})"
        if entry.status in ("calling", "running"):
            return f"calling {call} …"
        result = f" → {entry.output_preview}" if entry.output_preview else ""
        return (
            f"called {call}{result}{took}"
            if entry.status == "completed"
            else (f"{call}: {entry.status}{took}")
        )
    if entry.kind == "mcp":
        head = f"MCP {entry.server_label}: {entry.name}"
        if entry.status in ("calling", "running"):
            return f"{head}({_args_text(entry.arguments)}) …"
        if entry.status == "awaiting approval":
            return f"{head}({_args_text(entry.arguments)}) awaits approval"
        if entry.status == "completed":
            return f"{head} → done{took}"
        return f"{head} → {entry.status}" + (f": {entry.output_preview}" if entry.error else "")
    if entry.kind == "approval":
        if entry.status == "pending":
            return f"approval requested: {entry.title}({_args_text(entry.arguments)})"
        return f"approval: {entry.status}{took}"
    where = "the web" if entry.kind == "web search" else "files"
    if entry.ended_at is None:
        return f"searching {where} …"
    return f"searched {where}{took}" if entry.status == "completed" else f"search {entry.status}"


def footnotes(citations: list[dict[str, Any]]) -> list[str]:
    """``[1] title — url`` per citation (a file citation names the file)."""
    lines = []
    for n, note in enumerate(citations, start=1):
        title = note.get("title") or note.get("filename") or note.get("type") or "source"
        where = note.get("url") or note.get("file_id") or ""
        lines.append(f"[{n}] {preview(title, 60)}" + (f" — {where}" if where else ""))
    return lines
