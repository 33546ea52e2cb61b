"""Hypothesis fuzz of the conversation reducer: arbitrary event sequences (known types
with odd, missing or wrongly typed fields, unknown types, outages, barge-ins, quits)
never raise and keep the invariants the screen and the conversation log rely on."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.updates import Closed, EventReceived, EventSent, Outage, PlannedReconnect

IDS = st.sampled_from(["a", "b", "c", None])
TEXT = st.text(max_size=12)
ODD = st.one_of(st.none(), st.integers(), TEXT, st.lists(st.integers(), min_size=1, max_size=2))
RECEIVED = [
    "session.created",
    "session.updated",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.output_item.added",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "response.text.delta",
    "response.text.done",
    "response.audio.delta",
    "response.done",
    "error",
    "emulator.unknown",
]


@st.composite
def received(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(RECEIVED))
    # Valid JSON objects with a known type but fields of any shape reach the reducer:
    # the SDK's models keep unknown shapes as they are.
    event: dict[str, Any] = {"type": kind}
    response = {
        "id": draw(IDS),
        "status": draw(st.sampled_from(["completed", "cancelled", "incomplete", None])),
        "conversation_id": draw(st.one_of(st.none(), st.just("conv_1"))),
    }
    fields = {
        "item_id": draw(IDS),
        "response_id": draw(IDS),
        "delta": draw(st.one_of(TEXT, st.just("AAAA"))),
        "transcript": draw(TEXT),
        "text": draw(TEXT),
        "response": response,
        "item": {"id": draw(IDS), "role": draw(st.sampled_from(["assistant", "user", None]))},
        "session": {
            "id": "sess",
            "voice": draw(st.one_of(TEXT, st.just({"name": "v"}))),
            "expires_at": draw(st.one_of(st.none(), st.integers(-5, 2**40), TEXT)),
        },
        "error": {"message": draw(TEXT)},
    }
    for name, value in fields.items():
        if draw(st.booleans()):
            event[name] = value if draw(st.integers(0, 3)) else draw(ODD)  # often odd
    return event


STEP = st.one_of(
    received().map(lambda e: ("received", e)),
    st.tuples(st.just("sent_text"), TEXT),
    st.tuples(st.just("interrupt"), IDS, st.integers(0, 5000)),
    st.tuples(st.just("lost"), TEXT),
    st.tuples(st.just("reconnect"), st.just("reconnect requested")),
    st.tuples(st.just("quit"), st.just("quit")),
)


class NullLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def header(self, *fields: Any) -> None:
        self.lines.append("SessionID: ")


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, max_size=40))
def test_any_event_sequence_keeps_the_invariants(steps: list[tuple[Any, ...]]) -> None:
    conv = Conversation()
    log = NullLog()
    writer = ConversationLogWriter(log, conv)  # type: ignore[arg-type]
    created: list[str | None] = []
    for now, step in enumerate(steps):
        kind = step[0]
        if kind == "received":
            event = step[1]
            conv.apply_received(event, float(now))
            writer(EventReceived(event))
            if event["type"] == "response.created" and isinstance(event.get("response"), dict):
                created.append(event["response"].get("id"))
        elif kind == "sent_text":
            event = {
                "type": "conversation.item.create",
                "item": {"role": "user", "content": [{"type": "input_text", "text": step[1]}]},
            }
            conv.apply_sent(event, float(now))
            writer(EventSent(event))
        elif kind == "interrupt":
            conv.interrupt(step[1], step[2])
        elif kind == "lost":
            conv.connection_lost(step[1], 0.5, float(now))
            writer(Outage(step[1], 0.5))
            assert conv.active_response_id is None
        elif kind == "reconnect":
            conv.end_connection(step[1])
            writer(PlannedReconnect(step[1]))
            assert conv.active_response_id is None
        else:
            conv.cut_reply("quit")
            conv.closed()
            writer(Closed())
            assert conv.active_response_id is None
        # At most one active response, and it is one the server announced.
        assert conv.active_response_id is None or conv.active_response_id in created
        # Turns in order; one agent turn per item; a cut turn is final.
        starts = [t.started_at for t in conv.turns]
        assert starts == sorted(starts)
        items = [t.item_id for t in conv.turns if t.role == "agent" and t.item_id]
        assert len(items) == len(set(items))
        assert all(t.final for t in conv.turns if t.interrupted_by)
    # The log never writes an agent item twice.
    agent_lines = [line for line in log.lines if line.startswith("Agent ")]
    assert len(agent_lines) <= len([t for t in conv.turns if t.role == "agent"])
