"""Agent activity with the real SDK against the emulator: function calls, MCP servers and
approvals, agent-mode searches with citations, warnings, rate limits."""

from __future__ import annotations

import json

import pytest
from azure.ai.voicelive.models import (
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    MCPApprovalResponseRequestItem,
    MCPServer,
    ToolChoiceFunctionSelection,
    UserMessageItem,
)

from voicelive_tui.conversation.reducer import Conversation

WEATHER = FunctionTool(
    name="get_weather",
    description="Current weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
)
TIME = FunctionTool(
    name="get_time", description="The time now.", parameters={"type": "object", "properties": {}}
)


def say(text: str) -> UserMessageItem:
    return UserMessageItem(content=[InputTextContentPart(text=text)])


async def ask(probe, text: str) -> None:
    """A typed user message, then ``response.create`` (as a client does)."""
    await probe.conn.conversation.item.create(item=say(text))
    await probe.conn.response.create()


async def configure(probe, **session) -> None:
    await probe.wait_for("session.created")
    await probe.conn.session.update(session=session)
    await probe.wait_for("session.updated")


async def test_function_call_round_trip_answers_with_the_output(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER, TIME], tool_choice="auto")
        await ask(probe, "get_weather for Paris please")
        created = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "function_call"
        )
        deltas_done = await probe.wait_for("response.function_call_arguments.done")
        first = await probe.wait_for("response.done")
        assert "response.audio.delta" not in probe.types()  # nothing said until the output
        call = created.item
        output = json.dumps({"temperature_c": 21, "sky": "clear"})
        await probe.conn.conversation.item.create(
            previous_item_id=call.id,
            item=FunctionCallOutputItem(call_id=call.call_id, output=output),
        )
        echoed = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "function_call_output"
        )
        await probe.conn.response.create()
        transcript = await probe.wait_for("response.audio_transcript.done")
        second = await probe.wait_for("response.done")
    deltas = [e.delta for e in probe.events if e.type == "response.function_call_arguments.delta"]
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads("".join(deltas)) == json.loads(deltas_done.arguments) == {"city": "Paris"}
    assert deltas_done.name == "get_weather" and deltas_done.call_id == call.call_id
    assert first.response.status == "completed"
    assert [o.type for o in first.response.output] == ["function_call"]
    assert echoed.item.call_id == call.call_id
    assert transcript.transcript == (
        "Here is the weather for Paris: the temperature c is 21 and the sky is clear."
    )
    assert second.response.status == "completed"


async def test_parallel_calls_and_key_value_arguments(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER, TIME])
        await ask(probe, 'get_time, then get_weather city="New York" unit=celsius')
        done = await probe.wait_for("response.done")
        await probe.conn.session.update(session={"parallel_tool_calls": False})
        await probe.wait_for("session.updated")
        await ask(probe, "get_time and get_weather")
        single = await probe.wait_for("response.done")
    calls = [(o.name, json.loads(o.arguments)) for o in done.response.output]
    assert calls == [("get_time", {}), ("get_weather", {"city": "New York", "unit": "celsius"})]
    assert [o.name for o in single.response.output] == ["get_time"]


@pytest.mark.parametrize(
    "choice, expected",
    [
        ("none", None),
        ("required", "get_weather"),
        ("get_time", "get_time"),
        (ToolChoiceFunctionSelection(name="get_time"), "get_time"),
    ],
)
async def test_tool_choice_forms(emulator, voicelive_client, choice, expected):
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER, TIME], tool_choice=choice)
        await ask(probe, "Hello there, get_weather")
        done = await probe.wait_for("response.done")
    kinds = [o.type for o in done.response.output]
    if expected is None:
        assert kinds == ["message"]
    else:
        assert kinds == ["function_call"] and done.response.output[0].name == expected


async def test_unknown_tool_choice_and_bad_tools(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER], tool_choice="get_stock_price")
        warning = await probe.wait_for("warning")
        await probe.conn.session.update(session={"tools": [{"type": "code_interpreter"}]})
        error = await probe.wait_for("error")
    assert warning.warning.code == "tool_choice_unknown_function"
    assert "get_stock_price" in warning.warning.message
    assert error.error.param == "session.tools[0].type"
    assert emulator.latest.session["tools"][0]["name"] == "get_weather"


DEEPWIKI = "https://mcp.deepwiki.com/mcp"


async def test_mcp_servers_list_their_tools(emulator, voicelive_client):
    servers = [
        MCPServer(server_label="deepwiki", server_url=DEEPWIKI, allowed_tools=["ask_question"]),
        MCPServer(server_label="broken", server_url="https://mcp.example.invalid/mcp"),
    ]
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=servers)
        item = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "mcp_list_tools"
        )
        completed = await probe.wait_for("mcp_list_tools.completed")
        failed = await probe.wait_for("mcp_list_tools.failed")
    assert item.item.server_label == "deepwiki" and completed.item_id == item.item.id
    assert failed.item_id != item.item.id
    listed = emulator.latest.conversation.find(item.item.id).data["tools"]
    assert [t["name"] for t in listed] == ["ask_question"]


async def mcp_call(probe, approval) -> tuple:
    server = MCPServer(server_label="deepwiki", server_url=DEEPWIKI, require_approval=approval)
    await configure(probe, tools=[server])
    await probe.wait_for("mcp_list_tools.completed")
    await ask(probe, "ask_question repoName=Azure/azure-sdk-for-python How are retries done?")
    call = await probe.wait_for(
        "conversation.item.created", where=lambda e: e.item.type == "mcp_call"
    )
    args = await probe.wait_for("response.mcp_call_arguments.done")
    return call.item, args


@pytest.mark.parametrize("approve", [True, False])
async def test_mcp_call_waits_for_approval(emulator, voicelive_client, approve):
    async with voicelive_client(emulator) as probe:
        call, args = await mcp_call(probe, "always")
        request = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "mcp_approval_request"
        )
        await probe.wait_for("response.done")
        assert "response.mcp_call.in_progress" not in probe.types()
        await probe.conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(
                approval_request_id=request.item.id, approve=approve
            )
        )
        echo = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "mcp_approval_response"
        )
        if approve:
            await probe.wait_for("response.mcp_call.in_progress")
            await probe.wait_for("response.mcp_call.completed")
            output = await probe.wait_for("response.output_item.done")
        await probe.conn.response.create()
        answer = await probe.wait_for("response.audio_transcript.done")
        await probe.wait_for("response.done")
    assert json.loads(args.arguments) == {
        "repoName": "Azure/azure-sdk-for-python",
        "question": "How are retries done",
    }
    assert request.item.server_label == "deepwiki" and request.item.name == "ask_question"
    assert echo.item.approve is approve
    if approve:
        assert output.item.id == call.id and output.item.output.startswith("Emulated answer")
        assert "says:" in answer.transcript
    else:
        assert "response.mcp_call.in_progress" not in probe.types()
        assert "did not approve" in answer.transcript


async def test_mcp_call_without_approval_runs_at_once(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        call, _args = await mcp_call(probe, "never")
        await probe.wait_for("response.done")
        await probe.wait_for("response.mcp_call.completed")
        output = await probe.wait_for("response.output_item.done")
    assert "mcp_approval_request" not in [
        getattr(e, "item", None) and e.item.type for e in probe.events
    ]
    assert output.item.id == call.id and output.item.output


async def test_unanswered_approval_leaves_the_session_usable(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await mcp_call(probe, {"never": ["read_wiki_structure"]})
        await probe.wait_for("response.done")
        await probe.conn.response.create()
        waiting = await probe.wait_for("response.audio_transcript.done")
        await probe.wait_for("response.done")
        await probe.conn.conversation.item.create(
            item=MCPApprovalResponseRequestItem(approval_request_id="mcpr_nope", approve=True)
        )
        error = await probe.wait_for("error")
    assert "approval" in waiting.transcript
    assert error.error.param == "item.approval_request_id"


@pytest.mark.parametrize("kind", ["web", "file"])
async def test_agent_search_cites_its_source_before_the_answer(emulator, voicelive_client, kind):
    async with voicelive_client(emulator, model=None, agent_name="tobi", project_name="p") as probe:
        await probe.wait_for("session.created")
        await ask(
            probe, f"Please search {'my files' if kind == 'file' else 'the web'} for voice live"
        )
        await probe.wait_for(f"response.{kind}_search_call.in_progress")
        await probe.wait_for(f"response.{kind}_search_call.searching")
        await probe.wait_for(f"response.{kind}_search_call.completed")
        citation = await probe.wait_for("response.audio_transcript.annotation.added")
        first_words = await probe.wait_for("response.audio_transcript.delta")
        transcript = await probe.wait_for("response.audio_transcript.done")
        done = await probe.wait_for("response.done")
    annotation = citation.annotation
    assert [o.type for o in done.response.output] == [f"{kind}_search_call", "message"]
    assert (
        citation.item_id == done.response.output[1].id and first_words.item_id == citation.item_id
    )
    if kind == "web":
        assert annotation["type"] == "url_citation"
        cited = transcript.transcript[annotation["start_index"] : annotation["end_index"]]
        assert cited == f'"{annotation["title"]}"' and "voice live" in annotation["title"]
    else:
        assert annotation["type"] == "file_citation"
        assert annotation["filename"] in transcript.transcript


async def test_every_response_starts_with_rate_limits(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_for("response.created")
        limits = await probe.wait_for("rate_limits.updated")
        await probe.wait_for("response.done")
        await probe.conn.response.create()
        later = await probe.wait_for("rate_limits.updated")
    names = [r["name"] for r in limits["rate_limits"]]
    assert names == ["requests", "tokens"]
    assert later["rate_limits"][0]["remaining"] < limits["rate_limits"][0]["remaining"]


async def test_the_clients_reducer_follows_the_real_events(emulator, voicelive_client):
    """What the SDK receives from the emulator reduces to the entries the dashboard shows."""
    conv = Conversation()
    server = MCPServer(server_label="deepwiki", server_url=DEEPWIKI, require_approval="always")
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER, server])
        await ask(probe, "get_weather in Oslo")
        call = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "function_call"
        )
        await probe.wait_for("response.done")
        sent = FunctionCallOutputItem(call_id=call.item.call_id, output='{"sky": "grey"}')
        await probe.conn.conversation.item.create(item=sent)
        await probe.conn.response.create()
        await probe.wait_for("response.done")
        await ask(probe, "ask_question about retries")
        request = await probe.wait_for(
            "conversation.item.created", where=lambda e: e.item.type == "mcp_approval_request"
        )
        await probe.wait_for("response.done")
        answer = MCPApprovalResponseRequestItem(approval_request_id=request.item.id, approve=True)
        await probe.conn.conversation.item.create(item=answer)
        await probe.wait_for("response.output_item.done", where=lambda e: e.item.type == "mcp_call")
    answered = False
    for now, event in enumerate(probe.events):
        conv.apply_received(event.as_dict(), float(now))
        # The client's own items, where it sent them: the output after the call's response.
        if event.type == "response.done" and not answered:
            conv.apply_sent({"type": "conversation.item.create", "item": sent.as_dict()}, now)
            answered = True
        if event.type == "conversation.item.created" and event.item.type == "mcp_approval_request":
            conv.apply_sent({"type": "conversation.item.create", "item": answer.as_dict()}, now)
    weather = conv.activity.by_call_id(call.item.call_id)
    assert weather is not None and json.loads(weather.arguments) == {"city": "Oslo"}
    assert (weather.status, weather.output) == ("completed", '{"sky": "grey"}')
    mcp = next(e for e in conv.activity.entries.values() if e.kind == "mcp")
    assert mcp.title == "deepwiki.ask_question" and mcp.status == "completed"
    assert (mcp.output or "").startswith("Emulated answer")
    kinds = [(t.kind, [e.kind for e in t.activity]) for t in conv.turns if t.role == "agent"]
    assert kinds == [
        ("activity", ["function"]),
        ("audio", []),
        ("activity", ["mcp", "approval"]),
    ]


async def test_a_typed_question_fills_the_call_from_its_words(emulator, voicelive_client):
    """As a model would: the city is taken from the question, and the answer uses the
    result instead of reading its JSON out."""
    async with voicelive_client(emulator) as probe:
        await configure(probe, tools=[WEATHER], tool_choice="required")
        await ask(probe, "What is the weather in Lisbon?")
        done = await probe.wait_for("response.function_call_arguments.done")
        await probe.wait_for("response.done")
        output = json.dumps({"sky": "sun", "temperature_c": 24})
        await probe.conn.conversation.item.create(
            item=FunctionCallOutputItem(call_id=done.call_id, output=output)
        )
        await probe.conn.response.create()
        answer = await probe.wait_for("response.audio_transcript.done")
    assert json.loads(done.arguments) == {"city": "Lisbon"}
    assert answer.transcript == (
        "Here is the weather for Lisbon: the sky is sun and the temperature c is 24."
    )
