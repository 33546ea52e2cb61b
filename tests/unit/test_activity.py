"""Agent activity reduced from event lists (plain dicts, as on the wire): tool calls, MCP
calls and approvals, searches and citations become entries of their turn, and the
conversation log gets their lines in order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import LogLines
from voicelive_tui.conversation.activity import ToolActivity, describe, footnotes
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.summary import session_summary
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.updates import EventReceived, EventSent

Event = dict[str, Any]


class Run:
    """A conversation and its log, fed events one second apart (or at given times)."""

    def __init__(self) -> None:
        self.conv = Conversation()
        self.log = LogLines()
        self.writer = ConversationLogWriter(self.log, self.conv)  # type: ignore[arg-type]
        self.now = 0.0

    def received(self, *events: Event, at: float | None = None) -> None:
        for event in events:
            self.now = at if at is not None else self.now + 1
            self.conv.apply_received(event, self.now)
            self.writer(EventReceived(event, self.now))

    def sent(self, event: Event, at: float | None = None) -> None:
        self.now = at if at is not None else self.now + 1
        self.conv.apply_sent(event, self.now)
        self.writer(EventSent(event, self.now))


def user_text(text: str) -> Event:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def function_call(resp: str, item: str, call: str, name: str, args: str) -> list[Event]:
    fc = {"type": "function_call", "id": item, "call_id": call, "name": name, "arguments": ""}
    ids = {"response_id": resp, "item_id": item, "output_index": 0, "call_id": call}
    half = len(args) // 2
    return [
        {"type": "response.output_item.added", "response_id": resp, "item": fc},
        {"type": "conversation.item.created", "item": fc},
        {"type": "response.function_call_arguments.delta", "delta": args[:half], **ids},
        {"type": "response.function_call_arguments.delta", "delta": args[half:], **ids},
        {"type": "response.function_call_arguments.done", "arguments": args, "name": name, **ids},
        {
            "type": "response.output_item.done",
            "response_id": resp,
            "item": {**fc, "arguments": args},
        },
    ]


def created(resp: str) -> Event:
    return {"type": "response.created", "response": {"id": resp, "status": "in_progress"}}


def done(resp: str, status: str = "completed") -> Event:
    return {"type": "response.done", "response": {"id": resp, "status": status}}


def spoken_reply(resp: str, item: str, text: str) -> list[Event]:
    return [
        created(resp),
        {
            "type": "response.output_item.added",
            "response_id": resp,
            "item": {"id": item, "type": "message", "role": "assistant"},
        },
        {"type": "response.audio_transcript.delta", "item_id": item, "delta": text},
        {"type": "response.audio_transcript.done", "item_id": item, "transcript": text},
        done(resp),
    ]


def output(call: str, text: str) -> Event:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call, "output": text},
    }


def test_function_call_round_trip_is_an_entry_with_output_and_duration() -> None:
    run = Run()
    run.sent(user_text("weather in Paris?"))
    run.received(
        created("r1"), *function_call("r1", "fc1", "c1", "get_weather", '{"city": "Paris"}')
    )
    run.received(done("r1"))
    started = run.conv.activity.entries["fc1"].started_at
    run.sent(output("c1", json.dumps({"sky": "clear"})), at=started + 0.34)
    run.received(*spoken_reply("r2", "a2", "It is clear in Paris."))

    user, calls, answer = run.conv.turns
    assert (user.role, calls.role, calls.kind, answer.kind) == (
        "user",
        "agent",
        "activity",
        "audio",
    )
    (entry,) = calls.activity
    assert (entry.kind, entry.name, entry.call_id) == ("function", "get_weather", "c1")
    assert json.loads(entry.arguments) == {"city": "Paris"}
    assert entry.status == "completed" and entry.output_preview == '{"sky": "clear"}'
    assert round(entry.duration_ms or 0) == 340
    assert calls.text == "" and answer.activity == []
    assert run.log.lines == [
        "User Input:\tweather in Paris?",
        'Tool Call:\tget_weather({"city": "Paris"})',
        'Tool Result:\tget_weather -> {"sky": "clear"}',
        "Agent Audio Response:\tIt is clear in Paris.",
    ]


def test_parallel_calls_share_their_responses_turn_until_each_output_comes() -> None:
    run = Run()
    run.received(created("r1"))
    run.received(*function_call("r1", "fc1", "c1", "get_time", "{}"))
    second = function_call("r1", "fc2", "c2", "get_weather", '{"city": "Oslo"}')
    run.received(*[{**e, "output_index": 1} for e in second], done("r1"))
    run.sent(output("c2", "rain"))
    (turn,) = run.conv.turns
    first, weather = turn.activity
    assert (first.name, first.status, first.duration_ms) == ("get_time", "running", None)
    assert (weather.name, weather.status, weather.output) == ("get_weather", "completed", "rain")


def test_a_long_output_is_previewed_on_one_short_line() -> None:
    run = Run()
    run.received(created("r1"), *function_call("r1", "fc1", "c1", "lookup", "{}"), done("r1"))
    run.sent(output("c1", "line one\nline two " + "x" * 200))
    entry = run.conv.activity.entries["fc1"]
    assert entry.output_preview is not None
    assert "\n" not in entry.output_preview and len(entry.output_preview) == 80
    assert entry.output_preview.endswith("…") and entry.output_preview.startswith(
        "line one line two"
    )


def mcp_call(resp: str, item: str, approval: bool) -> list[Event]:
    call = {"type": "mcp_call", "id": item, "server_label": "deepwiki", "name": "ask_question"}
    ids = {"response_id": resp, "item_id": item, "output_index": 0}
    args = '{"question": "How?"}'
    events = [
        created(resp),
        {
            "type": "response.output_item.added",
            "response_id": resp,
            "item": {**call, "arguments": ""},
        },
        {"type": "conversation.item.created", "item": {**call, "arguments": ""}},
        {"type": "response.mcp_call_arguments.delta", "delta": args, **ids},
        {"type": "response.mcp_call_arguments.done", "arguments": args, **ids},
    ]
    if approval:
        request = {
            "type": "mcp_approval_request",
            "id": "mcpr_1",
            "server_label": "deepwiki",
            "name": "ask_question",
            "arguments": args,
        }
        events.append({"type": "conversation.item.created", "item": request})
    return [*events, done(resp)]


def mcp_result(resp: str, item: str) -> list[Event]:
    ids = {"item_id": item, "output_index": 0}
    call = {
        "type": "mcp_call",
        "id": item,
        "server_label": "deepwiki",
        "name": "ask_question",
        "output": "Retries use exponential back-off.",
    }
    return [
        {"type": "response.mcp_call.in_progress", **ids},
        {"type": "response.mcp_call.completed", **ids},
        {"type": "response.output_item.done", "response_id": resp, "output_index": 0, "item": call},
    ]


def approval(approve: bool) -> Event:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "mcp_approval_response",
            "approval_request_id": "mcpr_1",
            "approve": approve,
        },
    }


def test_mcp_call_approved_then_run() -> None:
    run = Run()
    run.received(*mcp_call("r1", "mcp1", approval=True))
    (turn,) = run.conv.turns
    call, request = turn.activity
    assert (call.kind, call.title, call.status) == (
        "mcp",
        "deepwiki.ask_question",
        "awaiting approval",
    )
    assert (request.kind, request.status, request.arguments) == (
        "approval",
        "pending",
        call.arguments,
    )
    assert run.conv.activity.pending_approvals() == [request]
    run.sent(approval(True))
    assert (request.status, call.status) == ("approved", "running")
    assert run.conv.activity.pending_approvals() == []
    run.received(*mcp_result("r1", "mcp1"))
    assert call.status == "completed" and call.output == "Retries use exponential back-off."
    assert call.duration_ms is not None and call.duration_ms > 0
    assert run.log.lines == [
        'Tool Call:\tdeepwiki.ask_question({"question": "How?"})',
        'Approval:\trequested deepwiki.ask_question({"question": "How?"})',
        'Approval:\tapproved deepwiki.ask_question({"question": "How?"})',
        "Tool Result:\tdeepwiki.ask_question -> Retries use exponential back-off.",
    ]


def test_mcp_call_denied_never_runs() -> None:
    run = Run()
    run.received(*mcp_call("r1", "mcp1", approval=True))
    run.sent(approval(False))
    # The service echoes the client's answer: it changes nothing more.
    echo = {
        "type": "mcp_approval_response",
        "id": "x",
        "approval_request_id": "mcpr_1",
        "approve": True,
    }
    run.received({"type": "conversation.item.created", "item": echo})
    call, request = run.conv.turns[0].activity
    assert (request.status, call.status) == ("denied", "denied")
    assert run.log.lines[-1].startswith("Approval:\tdenied deepwiki.ask_question")


def test_mcp_call_without_approval_runs_after_its_response() -> None:
    run = Run()
    run.received(*mcp_call("r1", "mcp1", approval=False))
    (call,) = run.conv.turns[0].activity
    assert call.status == "running" and run.conv.activity.pending_approvals() == []
    run.received(*mcp_result("r1", "mcp1"))
    assert call.status == "completed"


def test_failed_mcp_call_shows_its_error() -> None:
    run = Run()
    run.received(*mcp_call("r1", "mcp1", approval=False))
    failed = {"type": "mcp_call", "id": "mcp1", "name": "ask_question", "server_label": "deepwiki"}
    failed["error"] = {"type": "mcp_error", "message": "server unreachable"}
    run.received(
        {"type": "response.mcp_call.failed", "item_id": "mcp1", "output_index": 0},
        {"type": "response.output_item.done", "response_id": "r1", "item": failed},
    )
    (call,) = run.conv.turns[0].activity
    assert (call.status, call.output_preview) == ("failed", "server unreachable")
    assert run.log.lines[-1] == "Tool Result:\tdeepwiki.ask_question -> failed: server unreachable"


def test_search_and_its_citation_join_the_answer_turn() -> None:
    run = Run()
    ids = {"response_id": "r1", "item_id": "ws1", "output_index": 0}
    search = {"type": "web_search_call", "id": "ws1", "status": "in_progress"}
    run.received(
        created("r1"),
        {"type": "response.output_item.added", "response_id": "r1", "item": search},
        {"type": "response.web_search_call.in_progress", "sequence_number": 1, **ids},
        {"type": "response.web_search_call.searching", "sequence_number": 2, **ids},
    )
    (turn,) = run.conv.turns
    assert turn.activity[0].status == "searching"
    annotation = {"type": "url_citation", "url": "https://example.com", "title": "Example"}
    run.received(
        {"type": "response.web_search_call.completed", "sequence_number": 3, **ids},
        {
            "type": "response.output_item.done",
            "response_id": "r1",
            "item": {**search, "status": "completed"},
        },
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "item": {"id": "a1", "type": "message", "role": "assistant"},
        },
        {
            "type": "response.audio_transcript.annotation.added",
            "item_id": "a1",
            "annotation_index": 0,
            "annotation": annotation,
        },
        {"type": "response.audio_transcript.done", "item_id": "a1", "transcript": "Found it."},
        done("r1"),
    )
    (turn,) = run.conv.turns
    assert (turn.item_id, turn.kind, turn.text) == ("a1", "audio", "Found it.")
    assert turn.activity[0].status == "completed" and turn.activity[0].title == "web search"
    assert turn.citations == [annotation]
    assert run.log.lines == [
        "Tool Call:\tweb search",
        "Tool Result:\tweb search -> completed",
        "Agent Audio Response:\tFound it.",
    ]


def test_a_cancelled_response_cancels_its_unfinished_call() -> None:
    run = Run()
    events = function_call("r1", "fc1", "c1", "get_weather", '{"city": "Rome"}')
    run.received(created("r1"), *events[:3], done("r1", "cancelled"))
    entry = run.conv.activity.entries["fc1"]
    assert entry.status == "cancelled" and entry.arguments == '{"city":'
    assert not any(line.startswith("Tool Call:") for line in run.log.lines)


def test_warnings_become_notices_and_rate_limits_are_kept() -> None:
    run = Run()
    run.received(
        {"type": "warning", "warning": {"message": "No timestamps for this voice.", "code": "w"}},
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "requests", "limit": 100, "remaining": 7, "reset_seconds": 60},
                {"name": "tokens", "limit": "lots", "remaining": None},
            ],
        },
    )
    (notice,) = run.conv.turns
    assert (notice.role, notice.kind, notice.text) == (
        "system",
        "notice",
        "Warning: No timestamps for this voice.",
    )
    assert run.conv.activity.rate_limits == {"requests": (7, 100)}


def test_mcp_servers_listing_state() -> None:
    run = Run()
    for label, result in (("deepwiki", "completed"), ("broken", "failed")):
        item = {"type": "mcp_list_tools", "id": f"l_{label}", "server_label": label, "tools": []}
        run.received(
            {"type": "conversation.item.created", "item": item},
            {"type": "mcp_list_tools.in_progress", "item_id": f"l_{label}"},
            {"type": f"mcp_list_tools.{result}", "item_id": f"l_{label}"},
        )
    assert run.conv.activity.servers == {"deepwiki": "ready", "broken": "failed"}
    assert run.conv.turns == []  # listing tools is not a turn


def test_panel_lines_say_what_the_agent_is_doing() -> None:
    run = Run()
    run.received(
        created("r1"), *function_call("r1", "fc1", "c1", "get_weather", '{"city": "Paris"}')
    )
    entry = run.conv.activity.entries["fc1"]
    assert describe(entry) == "calling get_weather(city=Paris) …"
    run.sent(output("c1", '{"sky": "clear"}'), at=entry.started_at + 0.34)
    assert describe(entry) == 'called get_weather(city=Paris) → {"sky": "clear"} · 340 ms'

    run = Run()
    run.received(*mcp_call("r1", "mcp1", approval=True))
    call, request = run.conv.turns[0].activity
    assert describe(call) == "MCP deepwiki: ask_question(question=How?) awaits approval"
    assert describe(request) == "approval requested: deepwiki.ask_question(question=How?)"
    run.sent(approval(True), at=call.started_at + 0.5)
    run.received(*mcp_result("r1", "mcp1"), at=call.started_at + 1.25)
    assert describe(call) == "MCP deepwiki: ask_question → done · 1.2 s"

    search = ToolActivity("web search", "web search", 10.0, status="searching")
    assert describe(search) == "searching the web …"
    search.end("completed", 10.8)
    assert describe(search) == "searched the web · 800 ms"
    assert footnotes(
        [
            {"type": "url_citation", "title": "Voice Live", "url": "https://example.com"},
            {"type": "file_citation", "filename": "guide.md", "file_id": "file_1"},
        ]
    ) == ["[1] Voice Live — https://example.com", "[2] guide.md — file_1"]


def test_the_markdown_export_lists_the_tool_activity_of_a_turn() -> None:
    from voicelive_tui.conversation.export import conversation_markdown

    run = Run()
    run.sent(user_text("weather in Paris?"))
    run.received(
        created("r1"), *function_call("r1", "fc1", "c1", "get_weather", '{"city": "Paris"}')
    )
    run.received(done("r1"))
    run.sent(output("c1", json.dumps({"sky": "clear"})))
    run.received(*spoken_reply("r2", "a2", "It is clear in Paris."))
    text = conversation_markdown(run.conv, run.conv.latencies, lambda t: f"{t:.0f}")
    assert '- ⚙ called get_weather(city=Paris) → {"sky": "clear"}' in text
    assert text.index("get_weather") < text.index("It is clear in Paris.")


def test_the_users_approval_wait_is_not_the_agents_latency() -> None:
    """A typed turn whose MCP call the user approved after 10.5 s: 0.65 s of latency, and
    the 10.5 s shown apart (before, the turn showed as 11.15 s)."""
    run = Run()
    run.sent(user_text("how do retries work?"), at=100.0)
    *calls, _done = mcp_call("r1", "mcp1", approval=True)
    outputs = [{"type": "mcp_call", "id": "mcp1"}, {"type": "mcp_approval_request", "id": "mcpr_1"}]
    tools_only = {
        "type": "response.done",
        "response": {"id": "r1", "status": "completed", "output": outputs},
    }
    for i, event in enumerate([*calls, tools_only]):
        run.received(event, at=100.2 + i * 0.01)
    requested = run.conv.activity.entries["mcpr_1"].started_at
    run.sent(approval(True), at=requested + 10.5)
    run.received(*mcp_result("r1", "mcp1"), at=requested + 10.6)
    audio = {"type": "response.audio.delta", "response_id": "r2", "item_id": "a2", "delta": ""}
    run.received(created("r2"), at=requested + 10.9)
    run.received(audio, at=100.0 + 11.15)
    (timing,) = run.conv.latencies
    assert timing.approval_wait_ms == pytest.approx(10_500)
    assert timing.total_ms == pytest.approx(650)
    assert "10.50 s waiting for your approval" in timing.explain()


def test_tool_spans_run_from_the_call_to_its_output_and_the_next_audio() -> None:
    run = Run()
    run.sent(user_text("how do retries work?"), at=100.0)
    *calls, _done = mcp_call("r1", "mcp1", approval=True)
    for i, event in enumerate(calls):
        run.received(event, at=100.2 + i * 0.01)
    call = run.conv.activity.entries["mcp1"]
    requested = run.conv.activity.entries["mcpr_1"].started_at
    run.sent(approval(True), at=requested + 10.5)
    run.received(*mcp_result("r1", "mcp1"), at=requested + 10.8)
    audio = {"type": "response.audio.delta", "response_id": "r2", "item_id": "a2", "delta": ""}
    run.received(audio, at=requested + 11.2)
    (span,) = session_summary(run.conv)["tools"]
    assert span["title"] == "deepwiki.ask_question" and span["approval_wait_ms"] == 10_500.0
    own = (requested - call.started_at) * 1000
    assert span["call_to_output_ms"] == pytest.approx(own + 300, abs=0.1)
    assert span["call_to_next_audio_ms"] == pytest.approx(own + 700, abs=0.1)
