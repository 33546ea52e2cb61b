"""The emulator hears words: spoken turns (espeak-ng at 140 words/min) transcribed offline,
through the real SDK."""

from __future__ import annotations

import json
import re

from voicelive_tui import demo
from voicelive_tui.emulator import recognition
from voicelive_tui.emulator import tools as tools_module
from voicelive_tui.emulator.speech import synthesize_words
from voicelive_tui.emulator.state import StoredConversation, StoredItem

WEATHER = "What's the weather in Seattle?"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


async def test_a_spoken_turn_is_transcribed_and_the_reply_says_what_it_heard(
    emulator, voicelive_client, spoken
):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken(WEATHER))
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
        reply = await probe.wait_for("response.audio_transcript.done", timeout=30)
    # A sanity bound, not a word error rate (that is measured in benchmarks/recognition.py).
    assert {"weather", "seattle"} <= words(completed.transcript)
    deltas = [
        e.delta
        for e in probe.events
        if e.type == "conversation.item.input_audio_transcription.delta"
    ]
    # The deltas add up to the transcript unless the turn's whole decode changed a word
    # streamed while it was spoken.
    streamed = "".join(deltas)
    assert len(deltas) > 1
    assert streamed == completed.transcript or not completed.transcript.startswith(streamed)
    assert f'I heard: "{completed.transcript}"' in reply.transcript
    assert emulator.latest.conversation.items[0].text == completed.transcript


async def test_deltas_stream_while_the_user_is_still_speaking(emulator, voicelive_client, spoken):
    """The first words come before the turn ends: the client stops sending two seconds into
    a long sentence, with no silence yet, and the first delta comes anyway."""
    story = spoken("Please tell me a long story about the sea and the ships on it.")
    cut = 2 * 24000 * 2  # the 0.5 s of silence before the words, and 1.5 s of them
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "gpt-4o-transcribe"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(story[:cut])
        first = await probe.wait_for(
            "conversation.item.input_audio_transcription.delta", timeout=30
        )
        assert "input_audio_buffer.speech_started" in probe.types()
        assert "input_audio_buffer.speech_stopped" not in probe.types()
        await probe.send_audio(story[cut:])
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
    started = next(e for e in probe.events if e.type == "input_audio_buffer.speech_started")
    assert first.item_id == started.item_id == completed.item_id
    deltas = "".join(
        e.delta
        for e in probe.events
        if e.type == "conversation.item.input_audio_transcription.delta"
    )
    # The deltas add up to the transcript, unless the whole turn's decode changed a word
    # already sent (then ``completed`` has the final words).
    assert deltas == completed.transcript or not completed.transcript.startswith(deltas)


async def test_the_demo_users_first_words_are_recognised(emulator, voicelive_client):
    """The demo's scripted user, spoken as the demo speaks it (the emulator's espeak-ng),
    comes out in words a reader recognises. (Without the noise floor the recogniser adds,
    "Hello there. What can you do for me?" came out as "i don't care what you do for me".)"""
    said = await synthesize_words(demo.FIRST, 24000)
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        # As the app asks (session/service_config.py): the words come only when asked for.
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(bytes(24000) + said.pcm + bytes(48000))
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
    # A sanity bound, not a word error rate (benchmarks/recognition.py measures that).
    assert len(words(demo.FIRST) & words(completed.transcript)) >= 7, completed.transcript


async def test_include_asks_for_logprobs_and_phrases(emulator, voicelive_client, spoken):
    include = ["item.input_audio_transcription.logprobs", "item.input_audio_transcription.phrases"]
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}, "include": include}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken(WEATHER))
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
    tokens = [p.token for p in completed.logprobs]
    assert "".join(tokens) == completed.transcript
    assert all(p.logprob <= 0 for p in completed.logprobs)
    (phrase,) = completed.phrases
    assert phrase.text == completed.transcript and phrase.locale == "en-US"
    assert [w.text for w in phrase.words] == completed.transcript.split()
    starts = [w.offset_milliseconds for w in phrase.words]
    # The committed audio starts 300 ms (prefix padding) before the speech.
    assert starts == sorted(starts) and 200 <= starts[0] < 1000


async def test_without_include_there_are_no_logprobs(emulator, voicelive_client, spoken):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "whisper-1"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken(WEATHER))
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
    assert completed.get("logprobs") is None and completed.get("phrases") is None
    # whisper-1 is not a streaming model: the text comes whole (no deltas).
    assert "conversation.item.input_audio_transcription.delta" not in probe.types()


async def test_a_spoken_request_naming_a_tools_purpose_calls_it(emulator, voicelive_client, spoken):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"tools": [WEATHER_TOOL], "tool_choice": "auto"})
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken(WEATHER))
        call = await probe.wait_for("response.function_call_arguments.done", timeout=30)
        await probe.wait_for("response.done")
    assert call.name == "get_weather"
    assert json.loads(call.arguments).keys() == {"location"}
    # The words chose the tool; no transcript was asked for, so none is sent.
    assert not [t for t in probe.types() if "input_audio_transcription" in t]


async def test_a_spoken_turn_that_names_no_tool_calls_none(emulator, voicelive_client, spoken):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(session={"tools": [WEATHER_TOOL], "tool_choice": "auto"})
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken("Please tell me a long story about the sea."))
        done = await probe.wait_for("response.done", timeout=30)
    assert "response.function_call_arguments.done" not in probe.types()
    assert done.response.status == "completed"


async def test_a_language_other_than_english_is_warned_about_and_english_is_used(
    emulator, voicelive_client, spoken
):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech", "language": "de-DE"}}
        )
        warning = await probe.wait_for("warning")
        await probe.send_audio(spoken(WEATHER))
        completed = await probe.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=30
        )
    assert warning.warning.code == "transcription_language_unsupported"
    assert "de-DE" in warning.warning.message
    assert "weather" in words(completed.transcript)


async def test_english_languages_earn_no_warning(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech", "language": "en-GB"}}
        )
        await probe.wait_for("session.updated")
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    assert "warning" not in probe.types()


async def test_when_the_recogniser_cannot_run_the_turn_fails_and_is_known_by_its_length(
    emulator, voicelive_client, spoken, monkeypatch, tmp_path
):
    broken = tmp_path / "worker.py"
    broken.write_text('import sys\nprint(\'{"error": "no model"}\', flush=True)\nsys.exit(1)\n')
    monkeypatch.setattr(recognition, "WORKER", broken)
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(spoken(WEATHER))
        failed = await probe.wait_for(
            "conversation.item.input_audio_transcription.failed", timeout=30
        )
        reply = await probe.wait_for("response.audio_transcript.done", timeout=30)
    assert failed.error.code == "transcription_failed" and "no model" in failed.error.message
    assert re.search(r"I heard \d\.\d seconds of speech", reply.transcript)


async def test_audio_events_do_not_wait_for_recognition(emulator, voicelive_client, spoken):
    """A long turn is being recognised while the next one is spoken: its VAD events come
    before the first turn's transcript."""
    long_turn = spoken(" ".join([WEATHER] * 3))
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={
                "turn_detection": {"type": "server_vad", "create_response": False},
                "input_audio_transcription": {"model": "azure-speech"},
            }
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(long_turn + spoken(WEATHER))
        await probe.wait_for("input_audio_buffer.committed")
        await probe.wait_for("input_audio_buffer.speech_started")
        await probe.wait_for("conversation.item.input_audio_transcription.completed", timeout=60)
    types = probe.types()
    first_transcript = types.index("conversation.item.input_audio_transcription.completed")
    assert (
        types.index(
            "input_audio_buffer.speech_started", types.index("input_audio_buffer.committed")
        )
        < first_transcript
    )


def test_tool_words_say_what_a_tool_is_for():
    assert recognition.tool_words("get_weather") == ["weather"]
    assert recognition.tool_words("getCurrentTime") == ["current", "time"]
    assert recognition.tool_words("search_repositories") == ["repositories"]
    session = {
        "input_audio_transcription": {"phrase_list": ["Contoso Ltd", "weather"]},
        "tools": [{"type": "function", "name": "get_current_time"}, WEATHER_TOOL],
    }
    assert recognition.bias_phrases(session) == [
        "contoso ltd",
        "weather",
        "current time",
        "current",
        "time",
        "city",  # from WEATHER_TOOL's description ("weather" and "current" are there already)
    ]


# -- which spoken turn calls which tool (pure planning on a transcript) ------------------------

MCP_SAMPLE_TOOLS = [
    {
        "type": "mcp",
        "server_label": "deepwiki",
        "server_url": "https://mcp.deepwiki.com/mcp",
        "allowed_tools": ["read_wiki_structure", "ask_question"],
        "require_approval": "never",
    },
    {
        "type": "mcp",
        "server_label": "azure_doc",
        "server_url": "https://learn.microsoft.com/api/mcp",
    },
]
TIME_TOOL = {"type": "function", "name": "get_current_time", "description": "Get the current time"}


def planned(transcript: str, tools: list[dict], choice: str = "auto") -> tools_module.Plan:
    said = StoredItem(id="item_1", role="user", kind="audio", text=transcript)
    conversation = StoredConversation(id="conv_1", items=[said])
    return tools_module.plan_tools(conversation, {"tools": tools, "tool_choice": choice}, {}, False)


def test_a_spoken_turn_describing_an_mcp_tool_calls_it_without_its_name():
    # What the recogniser made of "Ask a question about the Azure SDK repository." through
    # PulseAudio: "question" is lost, "ask" and "repository" describe ask_question.
    plan = planned("ask where us to none the azure sdk repository", MCP_SAMPLE_TOOLS)
    assert plan.mcp is not None
    assert (plan.mcp.server_label, plan.mcp.name, plan.mcp.approval) == (
        "deepwiki",
        "ask_question",
        False,
    )
    assert json.loads(plan.mcp.arguments)["question"].startswith("ask where")
    # Heard with the noise floor: "ask" alone, a word of ask_question's name only it has.
    heard = planned("ask a ask about the accuracy kill you it cause it for me", MCP_SAMPLE_TOOLS)
    assert heard.mcp is not None and heard.mcp.name == "ask_question"
    docs = planned("search the official microsoft documentation", MCP_SAMPLE_TOOLS)
    assert docs.mcp is not None and docs.mcp.name == "microsoft_docs_search"


def test_one_description_word_or_a_typed_description_calls_nothing():
    assert planned("tell me about the repository", MCP_SAMPLE_TOOLS) == tools_module.Plan()
    assert planned("hello what can you do", [WEATHER_TOOL, TIME_TOOL]) == tools_module.Plan()
    typed = StoredItem(id="item_1", role="user", kind="text", text="ask about the repository")
    conversation = StoredConversation(id="conv_1", items=[typed])
    session = {"tools": MCP_SAMPLE_TOOLS, "tool_choice": "auto"}
    assert tools_module.plan_tools(conversation, session, {}, False) == tools_module.Plan()


def test_a_tools_name_wins_over_another_tools_description():
    plan = planned("what time is it in the current weather", [WEATHER_TOOL, TIME_TOOL])
    assert [f.name for f in plan.functions] == ["get_current_time", "get_weather"]
    described = planned("is it cold in this city right now", [WEATHER_TOOL, TIME_TOOL])
    assert described == tools_module.Plan()
    city = planned("the current weather in a city", [TIME_TOOL, WEATHER_TOOL])
    assert [f.name for f in city.functions] == ["get_weather"]
