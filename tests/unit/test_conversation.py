"""Conversation state reduced from recorded event lists (plain dicts, as on the wire)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from voicelive_tui.conversation.reducer import (
    ConnectionState,
    Conversation,
    VadState,
    cut_transcript,
)

Event = dict[str, Any]

AUDIO_100MS = base64.b64encode(b"\x00\x10" * 2400).decode()  # 100 ms of 24 kHz PCM16, not silent


# -- recorded event builders ---------------------------------------------------------------


def session_updated(session_id: str = "sess_1") -> list[Event]:
    return [
        {"type": "session.created", "session": {"id": session_id, "model": "gpt-realtime"}},
        {
            "type": "session.updated",
            "session": {
                "id": session_id,
                "model": "gpt-realtime",
                "voice": {"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"},
                "instructions": "Be brief.",
            },
        },
    ]


def user_speech(item: str, transcript: str) -> list[Event]:
    return [
        {"type": "input_audio_buffer.speech_started", "item_id": item, "audio_start_ms": 100},
        {"type": "input_audio_buffer.speech_stopped", "item_id": item, "audio_end_ms": 900},
        {"type": "input_audio_buffer.committed", "item_id": item},
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item,
            "content_index": 0,
            "transcript": transcript,
        },
    ]


def response_start(resp: str, item: str) -> list[Event]:
    return [
        {"type": "response.created", "response": {"id": resp, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "response_id": resp,
            "item": {"id": item, "type": "message", "role": "assistant"},
        },
    ]


def audio_chunk(resp: str, item: str, words: str) -> list[Event]:
    return [
        {
            "type": "response.audio_transcript.delta",
            "response_id": resp,
            "item_id": item,
            "delta": words,
        },
        {
            "type": "response.audio.delta",
            "response_id": resp,
            "item_id": item,
            "delta": AUDIO_100MS,
        },
    ]


def response_end(resp: str, item: str, transcript: str, status: str = "completed") -> list[Event]:
    return [
        {"type": "response.audio.done", "response_id": resp, "item_id": item},
        {
            "type": "response.audio_transcript.done",
            "response_id": resp,
            "item_id": item,
            "transcript": transcript,
        },
        {"type": "response.done", "response": {"id": resp, "status": status}},
    ]


def agent_answer(resp: str, item: str, deltas: list[str], final: str) -> list[Event]:
    events = response_start(resp, item)
    for words in deltas:
        events += audio_chunk(resp, item, words)
    return events + response_end(resp, item, final)


def feed(conv: Conversation, events: list[Event], start: float = 0.0, step: float = 0.01) -> float:
    """Apply events at ``start``, ``start + step``, ...; returns the next free time."""
    now = start
    for event in events:
        conv.apply_received(event, now)
        now += step
    return now


def texts(conv: Conversation, role: str) -> list[str]:
    return [t.text for t in conv.turns if t.role == role]


# -- a normal conversation ---------------------------------------------------------------


def test_session_info_and_ready_state() -> None:
    conv = Conversation()
    assert conv.connection is ConnectionState.CONNECTING
    feed(conv, session_updated()[:1])
    assert conv.connection is ConnectionState.CONNECTING  # created is not yet configured
    feed(conv, session_updated()[1:])
    assert conv.connection is ConnectionState.READY
    assert conv.session.id == "sess_1"
    assert conv.session.model == "gpt-realtime"
    assert conv.session.voice == "en-US-Ava:DragonHDLatestNeural"
    assert conv.session.instructions == "Be brief."


def test_streaming_transcript_deltas_are_replaced_by_the_final_text() -> None:
    conv = Conversation()
    feed(conv, session_updated() + response_start("r0", "a0"))
    feed(conv, audio_chunk("r0", "a0", "Hel") + audio_chunk("r0", "a0", "lo, how"))
    (turn,) = [t for t in conv.turns if t.role == "agent"]
    assert turn.text == "Hello, how"
    assert not turn.final
    assert conv.vad is VadState.AGENT_SPEAKING
    assert conv.response_active
    feed(conv, response_end("r0", "a0", "Hello, how can I help you today?"))
    assert turn.text == "Hello, how can I help you today?"
    assert turn.final and turn.status == "completed"
    assert turn.audio_ms == pytest.approx(200.0)
    assert not conv.response_active
    assert conv.vad is VadState.IDLE


def test_greeting_then_two_answered_user_turns() -> None:
    conv = Conversation()
    t = feed(conv, session_updated() + agent_answer("r0", "a0", ["Hi! "], "Hi! How can I help?"))
    assert conv.answered_user_turns == 0  # the greeting answers nobody
    t = feed(conv, user_speech("u1", "What's the weather?"), t)
    t = feed(conv, agent_answer("r1", "a1", ["Sunny ", "today."], "Sunny today."), t)
    assert conv.answered_user_turns == 1
    t = feed(conv, user_speech("u2", "Thanks."), t)
    feed(conv, agent_answer("r2", "a2", ["You're welcome."], "You're welcome."), t)
    assert conv.answered_user_turns == 2
    assert [(t.role, t.text) for t in conv.turns] == [
        ("agent", "Hi! How can I help?"),
        ("user", "What's the weather?"),
        ("agent", "Sunny today."),
        ("user", "Thanks."),
        ("agent", "You're welcome."),
    ]


def test_vad_state_follows_the_turn() -> None:
    conv = Conversation()
    t = feed(conv, session_updated())
    assert conv.vad is VadState.IDLE
    events = user_speech("u1", "Hi")
    conv.apply_received(events[0], t)
    assert conv.vad is VadState.USER_SPEAKING
    conv.apply_received(events[1], t + 1)
    assert conv.vad is VadState.PROCESSING
    feed(conv, events[2:] + response_start("r1", "a1") + audio_chunk("r1", "a1", "Hey"), t + 2)
    assert conv.vad is VadState.AGENT_SPEAKING
    feed(conv, response_end("r1", "a1", "Hey"), t + 3)
    assert conv.vad is VadState.IDLE


def test_typed_user_turn_is_answered() -> None:
    conv = Conversation()
    t = feed(conv, session_updated())
    conv.apply_sent(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Tell me a joke"}],
            },
        },
        t,
    )
    conv.apply_sent({"type": "response.create"}, t)
    conv.apply_received({"type": "response.created", "response": {"id": "r1"}}, t + 0.1)
    feed(
        conv,
        [
            {"type": "response.text.delta", "response_id": "r1", "item_id": "a1", "delta": "Why"},
            {"type": "response.text.delta", "response_id": "r1", "item_id": "a1", "delta": " not"},
        ],
        t + 0.2,
    )
    assert texts(conv, "agent") == ["Why not"]
    feed(
        conv,
        [
            {
                "type": "response.text.done",
                "response_id": "r1",
                "item_id": "a1",
                "text": "Why not? Here is one.",
            },
            {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
        ],
        t + 0.5,
    )
    assert [(x.role, x.kind, x.text) for x in conv.turns] == [
        ("user", "text", "Tell me a joke"),
        ("agent", "text", "Why not? Here is one."),
    ]
    assert conv.answered_user_turns == 1
    assert conv.sent["response.create"] == 1


def test_sent_audio_and_received_audio_are_counted() -> None:
    conv = Conversation()
    conv.apply_sent({"type": "input_audio_buffer.append", "audio": AUDIO_100MS}, 0.0)
    feed(conv, response_start("r0", "a0") + audio_chunk("r0", "a0", "x"))
    assert conv.audio_in_bytes == 4800
    assert conv.audio_out_bytes == 4800
    assert conv.sent["input_audio_buffer.append"] == 1
    assert conv.received["response.audio.delta"] == 1


@pytest.mark.parametrize("reference", [False, True], ids=["mono", "client reference"])
def test_a_block_appended_live_is_reduced_as_its_replayed_event(reference: bool) -> None:
    """The live session's short way for a microphone block (``appended``, fifty a second)
    leaves the state a replay of the same events leaves (``apply_sent``): counts, bytes,
    the timeline's stretches of sent audio and the capture clock a turn's latency uses."""
    live, replayed = Conversation(), Conversation()
    channels = 2 if reference else 1
    session: Event = {"type": "session.update", "session": {}}
    if reference:
        session["session"]["input_audio_echo_cancellation"] = {
            "reference_source": "client",
            "channels": 2,
        }
    for conv in (live, replayed):
        conv.apply_sent(session, 0.0)
    at = 10.0
    for n in range(120):
        at += 0.9 if n == 60 else 0.02  # muted for a while: two stretches of sent audio
        size = (960 if n % 7 else 482) * channels
        live.appended(size, at)
        replayed.apply_sent({"type": "input_audio_buffer.append", "audio": f"<{size} bytes>"}, at)
    for conv in (live, replayed):
        speech = [
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 300, "item_id": "u1"},
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1200, "item_id": "u1"},
        ]
        feed(conv, speech, at)
    assert live.sent == replayed.sent and live.sent["input_audio_buffer.append"] == 120
    assert (
        live.audio_in_bytes
        == replayed.audio_in_bytes
        == sum(960 if n % 7 else 482 for n in range(120))
    )
    assert list(live.timeline.sent) == list(replayed.timeline.sent)
    assert len(live.timeline.sent) == 2
    clock, again = live.timer.capture_clock, replayed.timer.capture_clock
    assert clock.appended_ms == again.appended_ms
    assert [clock.time_of(ms) for ms in (100.0, 1200.0, 2300.0)] == [
        again.time_of(ms) for ms in (100.0, 1200.0, 2300.0)
    ]
    ends = [t.speech_end for t in live.latencies]
    assert ends == [t.speech_end for t in replayed.latencies]
    assert ends and ends[0] is not None


# -- barge-in and cancellation -------------------------------------------------------------


def test_barge_in_mid_stream_cuts_the_agent_text_to_what_was_heard() -> None:
    conv = Conversation()
    t = feed(conv, session_updated() + user_speech("u1", "Tell me about Mars"))
    words = ["Mars is the ", "fourth planet ", "from the Sun ", "and it is red."]
    t = feed(conv, response_start("r1", "a1"), t)
    for chunk in words:  # 4 x 100 ms of audio
        t = feed(conv, audio_chunk("r1", "a1", chunk), t)
    # The user speaks after 150 ms of playback: the session cuts the item there.
    conv.apply_received(
        {"type": "input_audio_buffer.speech_started", "item_id": "u2", "audio_start_ms": 5000}, t
    )
    conv.interrupt("a1", heard_ms=150)
    agent = conv.agent_turn("a1")
    assert agent is not None
    assert agent.interrupted and agent.heard_ms == 150 and agent.final
    full = "".join(words)
    assert agent.text == cut_transcript(full, 150, 400)
    assert full.startswith(agent.text) and len(agent.text) < len(full) * 0.5
    assert conv.vad is VadState.USER_SPEAKING
    # Late deltas and the final transcript of the cut item do not bring the text back.
    t = feed(
        conv,
        [
            {
                "type": "response.audio_transcript.delta",
                "response_id": "r1",
                "item_id": "a1",
                "delta": " More words",
            }
        ]
        + response_end("r1", "a1", full, status="cancelled"),
        t + 0.1,
    )
    assert agent.text == cut_transcript(full, 150, 400)
    assert agent.status == "cancelled"
    assert conv.answered_user_turns == 0  # a cancelled answer answers nothing
    assert not conv.response_active


def test_cancelled_response_then_the_next_answer_counts_once() -> None:
    conv = Conversation()
    t = feed(conv, session_updated() + user_speech("u1", "Tell me a long story"))
    t = feed(conv, response_start("r1", "a1") + audio_chunk("r1", "a1", "Once upon"), t)
    t = feed(conv, user_speech("u2", "Actually, stop."), t)
    conv.interrupt("a1", heard_ms=40)
    t = feed(conv, [{"type": "response.done", "response": {"id": "r1", "status": "cancelled"}}], t)
    assert conv.answered_user_turns == 0
    feed(conv, agent_answer("r2", "a2", ["Okay."], "Okay."), t)
    assert conv.answered_user_turns == 1
    statuses = [x.status for x in conv.turns if x.role == "agent"]
    assert statuses == ["cancelled", "completed"]


def test_interrupt_of_an_unknown_item_changes_nothing() -> None:
    conv = Conversation()
    feed(conv, session_updated() + agent_answer("r0", "a0", ["Hi."], "Hi."))
    conv.interrupt("nope", heard_ms=10)
    conv.interrupt(None, heard_ms=10)
    assert texts(conv, "agent") == ["Hi."]
    assert not any(x.interrupted for x in conv.turns)


def test_interrupt_after_everything_was_heard_keeps_the_text() -> None:
    assert cut_transcript("Hello there.", heard_ms=500, audio_ms=400) == "Hello there."
    assert cut_transcript("Hello there.", heard_ms=0, audio_ms=400) == ""
    assert cut_transcript("Hello there friend", heard_ms=200, audio_ms=400) == "Hello"


# -- reconnect -------------------------------------------------------------------------------


def test_reconnect_keeps_turns_and_becomes_ready_on_session_updated() -> None:
    conv = Conversation()
    t = feed(conv, session_updated("sess_1") + user_speech("u1", "Hi"))
    t = feed(conv, response_start("r1", "a1") + audio_chunk("r1", "a1", "Hello the"), t)
    before = [(x.role, x.text) for x in conv.turns]
    conv.connection_lost("socket closed", retry_in_s=0.5, now=t)
    assert conv.connection is ConnectionState.RECONNECTING
    assert conv.reconnect_in_s == 0.5
    assert conv.outages == 1
    assert not conv.response_active
    assert conv.vad is VadState.IDLE
    assert conv.agent_turn("a1").status == "interrupted by outage"  # type: ignore[union-attr]
    # A failed retry is the same outage, with a longer wait.
    conv.connection_lost("connection refused", retry_in_s=1.0, now=t + 0.5)
    assert conv.outages == 1 and conv.reconnect_in_s == 1.0
    conv.connecting()
    assert conv.connection is ConnectionState.CONNECTING
    t = feed(conv, session_updated("sess_2"), t + 2)
    assert conv.connection is ConnectionState.READY
    assert conv.reconnect_in_s is None
    assert conv.session.id == "sess_2"
    notices = [x for x in conv.turns if x.role == "system"]
    assert len(notices) == 1 and "socket closed" in notices[0].text
    assert [(x.role, x.text) for x in conv.turns if x.role != "system"] == before
    # The conversation goes on after the outage.
    t = feed(conv, user_speech("u2", "Are you back?"), t)
    feed(conv, agent_answer("r2", "a2", ["Yes."], "Yes."), t)
    assert texts(conv, "user") == ["Hi", "Are you back?"]
    assert conv.answered_user_turns == 1


def test_conversation_id_from_the_service_is_remembered() -> None:
    conv = Conversation()
    feed(
        conv,
        [
            {"type": "response.created", "response": {"id": "r0", "conversation_id": "conv_abc"}},
            {
                "type": "response.done",
                "response": {"id": "r0", "status": "completed", "conversation_id": "conv_abc"},
            },
        ],
    )
    assert conv.session.conversation_id == "conv_abc"


def test_closed() -> None:
    conv = Conversation()
    feed(conv, session_updated() + response_start("r0", "a0"))
    conv.closed()
    assert conv.connection is ConnectionState.CLOSED
    assert not conv.response_active


# -- out-of-order and unknown events ---------------------------------------------------------


def test_user_transcript_arriving_after_the_answer_started_lands_on_the_user_turn() -> None:
    conv = Conversation()
    events = session_updated() + user_speech("u1", "What time is it?")
    transcript = events.pop()  # the transcription completes late, as it often does
    t = feed(conv, events)
    t = feed(conv, response_start("r1", "a1") + audio_chunk("r1", "a1", "It is "), t)
    t = feed(conv, [transcript], t)
    feed(conv, response_end("r1", "a1", "It is noon."), t)
    assert [(x.role, x.text) for x in conv.turns] == [
        ("user", "What time is it?"),
        ("agent", "It is noon."),
    ]


def test_deltas_before_output_item_added_make_one_agent_turn() -> None:
    conv = Conversation()
    t = feed(conv, [{"type": "response.created", "response": {"id": "r0"}}])
    t = feed(conv, audio_chunk("r0", "a0", "Hi"), t)
    t = feed(
        conv,
        [
            {
                "type": "response.output_item.added",
                "response_id": "r0",
                "item": {"id": "a0", "role": "assistant"},
            }
        ],
        t,
    )
    feed(conv, response_end("r0", "a0", "Hi there."), t)
    assert [(x.role, x.text, x.status) for x in conv.turns] == [("agent", "Hi there.", "completed")]


def test_transcription_without_speech_started_still_shows_the_user() -> None:
    conv = Conversation()
    feed(
        conv,
        [
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u9",
                "transcript": "Hello?",
            }
        ],
    )
    assert texts(conv, "user") == ["Hello?"]


def test_two_interleaved_items_keep_their_own_text() -> None:
    conv = Conversation()
    t = feed(conv, response_start("r0", "a0"))
    t = feed(conv, audio_chunk("r0", "a0", "First ") + audio_chunk("r0", "a1", "Second "), t)
    t = feed(conv, audio_chunk("r0", "a0", "item.") + audio_chunk("r0", "a1", "item."), t)
    assert texts(conv, "agent") == ["First item.", "Second item."]


def test_unknown_and_malformed_events_are_counted_and_change_nothing() -> None:
    conv = Conversation()
    t = feed(conv, session_updated() + agent_answer("r0", "a0", ["Hi."], "Hi."))
    before = ([(x.role, x.text) for x in conv.turns], conv.vad, conv.connection)
    feed(
        conv,
        [
            {"type": "rate_limits.updated", "rate_limits": []},
            {"type": "some.future.event", "payload": {"x": 1}},
            {"type": "response.created"},  # no response object
            {"type": "response.done"},
            {"no_type": True},
        ],
        t,
    )
    assert ([(x.role, x.text) for x in conv.turns], conv.vad, conv.connection) == before
    assert conv.received["rate_limits.updated"] == 1
    assert conv.received["some.future.event"] == 1


# -- latencies ---------------------------------------------------------------------------


def append(ms: int) -> dict:
    """An input_audio_buffer.append of ``ms`` of 24 kHz PCM16 (its base64 length is
    what counts)."""
    import base64

    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(48 * ms)).decode()}


def test_latencies_of_a_user_turn() -> None:
    conv = Conversation()
    feed(conv, session_updated())
    for i in range(100):  # 2 s of microphone audio appended, block by block, from t=9
        conv.apply_sent(append(20), 9.0 + 0.02 * (i + 1))
    started, stopped = user_speech("u1", "Hi")[:2]
    conv.apply_received(started, 10.0)
    # The server says speech ended 1.45 s into the appended audio; it says so at 11.0.
    conv.apply_received({**stopped, "audio_end_ms": 1450}, 11.0)
    conv.apply_received({"type": "response.created", "response": {"id": "r1"}}, 11.3)
    feed(conv, response_start("r1", "a1")[1:], 11.35, step=0.0)
    conv.apply_received(audio_chunk("r1", "a1", "Hello")[1], 11.5)
    conv.apply_received(audio_chunk("r1", "a1", "there")[1], 11.6)  # only the first counts
    conv.playback_started("a1", 11.58)
    conv.playback_started("a1", 12.0)  # only the first sample counts
    (lat,) = conv.latencies
    assert not lat.estimated
    stages = dict(lat.stages())
    assert stages["end-of-speech wait"] == pytest.approx(550.0)  # 10.45 -> 11.0
    assert stages["response start"] == pytest.approx(300.0)
    assert stages["first audio"] == pytest.approx(200.0)
    assert stages["playback"] == pytest.approx(80.0)
    assert lat.total_ms == pytest.approx(1130.0)
    assert conv.last_voice_to_voice_ms == pytest.approx(1130.0)


def test_without_audio_end_ms_the_end_of_speech_is_estimated() -> None:
    conv = Conversation()
    started, stopped = user_speech("u1", "Hi")[:2]
    conv.apply_received(started, 10.0)
    conv.apply_received(stopped, 11.0)
    (lat,) = conv.latencies
    assert lat.estimated and lat.speech_end == 11.0


def test_a_typed_turn_is_timed_from_sent_to_first_output() -> None:
    conv = Conversation()
    text = [{"type": "input_text", "text": "hi"}]
    item = {"type": "message", "role": "user", "content": text}
    conv.apply_sent({"type": "conversation.item.create", "item": item}, 5.0)
    conv.apply_received({"type": "response.created", "response": {"id": "r1"}}, 5.1)
    conv.apply_received(audio_chunk("r1", "a1", "Hello")[1], 5.4)
    (lat,) = conv.latencies
    assert lat.kind == "typed" and lat.total_ms == pytest.approx(400.0)
    assert conv.last_voice_to_voice_ms is None  # the status bar shows spoken turns


def test_greeting_has_no_latency_and_each_turn_its_own() -> None:
    conv = Conversation()
    t = feed(conv, session_updated() + agent_answer("r0", "a0", ["Hi."], "Hi."))
    assert conv.latencies == [] and conv.last_voice_to_voice_ms is None
    for n, gap in ((1, 0.4), (2, 0.7)):
        started, stopped = user_speech(f"u{n}", "x")[:2]
        conv.apply_received(started, t)
        conv.apply_received(stopped, t + 1)
        conv.apply_received({"type": "response.created", "response": {"id": f"r{n}"}}, t + 1.1)
        conv.apply_received(audio_chunk(f"r{n}", f"a{n}", "y")[1], t + 1 + gap)
        conv.playback_started(f"a{n}", t + 1 + gap + 0.1)
        t = feed(conv, response_end(f"r{n}", f"a{n}", "y"), t + 2)
    assert [round(x.total_ms or 0) for x in conv.latencies] == [500, 800]
    assert conv.last_voice_to_voice_ms == pytest.approx(800.0)


def test_playback_of_an_unknown_item_is_ignored() -> None:
    conv = Conversation()
    conv.playback_started("nope", 1.0)
    assert conv.latencies == []


# -- errors ------------------------------------------------------------------------------


def test_errors_are_listed_but_not_the_benign_cancel_error() -> None:
    conv = Conversation()
    feed(
        conv,
        [
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "Cancellation failed: no active response found",
                },
            },
            {"type": "error", "error": {"code": "invalid_value", "message": "Unknown voice 'x'"}},
        ],
    )
    assert conv.errors == ["Unknown voice 'x'"]
    assert conv.received["error"] == 2
