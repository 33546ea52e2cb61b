"""Bad client input gets an ``error`` event and the connection stays up."""

from __future__ import annotations

import base64
from typing import Any

import pytest


async def _send_raw(probe: Any, text: str) -> None:
    # The SDK only sends valid JSON; go one level down for malformed frames.
    await probe.conn._connection.send_str(text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


BAD_EVENTS = {
    "malformed-json": ('{"type": "session.update", ', "invalid_json", None),
    "not-an-object": ("[1, 2, 3]", "missing_required_parameter", "type"),
    "missing-type": ({"event_id": "e1"}, "missing_required_parameter", "type"),
    "unknown-type": ({"type": "response.dance"}, "unknown_event_type", "type"),
    "append-without-audio": (
        {"type": "input_audio_buffer.append"},
        "missing_required_parameter",
        "audio",
    ),
    "append-audio-wrong-type": (
        {"type": "input_audio_buffer.append", "audio": 42},
        "invalid_type",
        "audio",
    ),
    "append-undecodable-audio": (
        {"type": "input_audio_buffer.append", "audio": "not base64!"},
        "invalid_audio",
        "audio",
    ),
    "append-odd-length-audio": (
        {"type": "input_audio_buffer.append", "audio": _b64(b"abc")},
        "invalid_audio",
        "audio",
    ),
    "append-oversized-audio": (
        {"type": "input_audio_buffer.append", "audio": _b64(bytes(64_002))},
        "audio_too_large",
        "audio",
    ),
    "truncate-without-item-id": (
        {"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 5},
        "missing_required_parameter",
        "item_id",
    ),
    "truncate-wrong-type": (
        {
            "type": "conversation.item.truncate",
            "item_id": "x",
            "content_index": "0",
            "audio_end_ms": 5,
        },
        "invalid_type",
        "content_index",
    ),
    "item-create-without-item": (
        {"type": "conversation.item.create"},
        "missing_required_parameter",
        "item",
    ),
    "item-create-bad-role": (
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "robot", "content": []},
        },
        "invalid_value",
        "item.role",
    ),
    "item-create-bad-content": (
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        },
        "invalid_type",
        "item.content[0].text",
    ),
    "session-update-unknown-field": (
        {"type": "session.update", "session": {"colour": "blue"}},
        "invalid_session_config",
        "session.colour",
    ),
    "session-update-threshold-out-of-range": (
        {
            "type": "session.update",
            "session": {"turn_detection": {"type": "server_vad", "threshold": 2}},
        },
        "invalid_session_config",
        "session.turn_detection.threshold",
    ),
    "session-update-bad-rate": (
        {"type": "session.update", "session": {"input_audio_sampling_rate": 44100}},
        "invalid_session_config",
        "session.input_audio_sampling_rate",
    ),
    "session-update-not-an-object": (
        {"type": "session.update", "session": "fast"},
        "invalid_session_config",
        "session",
    ),
    "response-create-bad-modalities": (
        {"type": "response.create", "response": {"modalities": ["smell"]}},
        "invalid_value",
        "response.modalities",
    ),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS), ids=list(BAD_EVENTS))
async def test_bad_input_gets_an_error_and_the_connection_stays_up(
    emulator_factory, voicelive_client, case
):
    emu = await emulator_factory(max_append_bytes=64_000)
    frame, code, param = BAD_EVENTS[case]
    async with voicelive_client(emu) as probe:
        created = await probe.wait_for("session.created")
        if isinstance(frame, str):
            await _send_raw(probe, frame)
        else:
            await probe.conn.send(frame)
        error = await probe.wait_for("error")
        # Still serving, and the bad input changed nothing.
        await probe.conn.session.update(session={"temperature": 0.6})
        updated = await probe.wait_for("session.updated")
    assert error.error.type == "invalid_request_error"
    assert error.error.code == code
    assert error.error.param == param
    assert error.error.message
    assert updated.session.turn_detection.threshold == created.session.turn_detection.threshold
    assert updated.session.input_audio_sampling_rate == 24000
    assert emu.latest.appended_audio_bytes == 0
    assert emu.latest.closed is False


async def test_error_names_the_client_event_id(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.send({"type": "input_audio_buffer.append", "event_id": "evt_42"})
        error = await probe.wait_for("error")
    assert error.error.event_id == "evt_42"
    assert error.event_id.startswith("event_")


async def test_binary_frames_are_refused_politely(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn._connection.send_bytes(b"\x00\x01")
        error = await probe.wait_for("error")
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    assert error.error.code == "invalid_frame"
    assert emulator.latest.counts["invalid"] == 1
