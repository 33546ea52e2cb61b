"""The emulator hears words: spoken turns (espeak-ng at 140 words/min) transcribed offline,
through the real SDK."""

from __future__ import annotations

import json
import re

from voicelive_tui.emulator import recognition

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
    assert len(deltas) > 1 and "".join(deltas) == completed.transcript
    assert f'I heard: "{completed.transcript}"' in reply.transcript
    assert emulator.latest.conversation.items[0].text == completed.transcript


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
    long_turn = spoken(" ".join([WEATHER] * 8))
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
    ]
