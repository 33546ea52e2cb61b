"""A hostile Voice Live session: terminal control sequences in every text field.

:func:`script` is what the ``"hostile"`` server of :mod:`tests.reliability.badserver`
plays into the client: the session's id, model, voice and instructions, a user
transcript, an agent reply whose transcript deltas split every sequence across frames,
its final transcript, a citation, a function call, an MCP call and its approval request,
a web search, a warning, an error, a rate limit, an event of an unknown type, and ids,
all carrying :data:`HOSTILE`. The first connection then closes with a hostile reason;
the next ones play the script again and stay open.

For a manual check in a real terminal (tmux ``pipe-pane``)::

    python -m tests.reliability.badserver hostile    # prints its endpoint
    voicelive-tui --endpoint <endpoint> --api-key x --no-audio
"""

from __future__ import annotations

import json
import re
from typing import Any

SEQUENCES = {
    "OSC 0 (window title), BEL": "\x1b]0;HOSTILE-TITLE\x07",
    "CSI 2J (clear screen)": "\x1b[2J",
    "OSC 52 (write the clipboard), ST": "\x1b]52;c;SE9TVElMRQ==\x1b\\",
    "DCS (query)": "\x1bP$qHOSTILE\x1b\\",
    "8-bit CSI": "\x9b2J",
    "8-bit OSC": "\x9d0;HOSTILE-C1\x9c",
    "bidi override": "\u202eHOSTILE-RTL\u202c",
    "bidi isolate": "\u2066HOSTILE-ISO\u2069",
    "DEL, backspace, NUL": "\x7f\x08\x00",
}
"""What the server hides in its text, by what it would do to a terminal."""

HOSTILE = "«" + "|".join(SEQUENCES.values()) + "»"
"""Every sequence in one string, between guillemets a test can find on screen."""

RAW_BYTES = {
    "OSC 0": b"\x1b]0;",
    "OSC 52": b"\x1b]52;",
    "DCS": b"\x1bP",
    "CSI 2J": b"\x1b[2J",
    "8-bit CSI": "\x9b".encode(),
    "8-bit OSC": "\x9d".encode(),
    "8-bit ST": "\x9c".encode(),
    "bidi override": "\u202e".encode(),
    "bidi isolate": "\u2066".encode(),
    "BEL": b"\x07",
    "DEL": b"\x7f",
    "backspace": b"\x08",
    "NUL": b"\x00",
}
"""The bytes of :data:`SEQUENCES` that the client, writing them raw, would hand a terminal.
None of them is written by the client itself: Textual's own output is CSI sequences, and
its OSC 22 (pointer shape, see :data:`APP_OSC`) is left out of the count."""

CLOSE_REASON = "\x1b]0;HOSTILE-TITLE\x07\x1b[2J\u202e"
"""The close frame's reason (at most 123 bytes on the wire)."""


APP_OSC = re.compile(rb"\x1b\]22;[a-z-]*\x07")
"""The one OSC Textual writes itself here: the mouse pointer's shape (ended by BEL)."""


def raw_counts(data: bytes) -> dict[str, int]:
    """How many of each :data:`RAW_BYTES` form ``data`` holds (only those present), the
    app's own pointer-shape sequences left out."""
    data = APP_OSC.sub(b"", data)
    counts = {name: data.count(raw) for name, raw in RAW_BYTES.items()}
    return {name: n for name, n in counts.items() if n}


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def script(h: str = HOSTILE) -> list[dict[str, Any]]:
    """The session the server plays: ``h`` in every text field the client reads."""
    session = {
        "id": "sess_" + h,
        "model": "gpt-" + h,
        "voice": {"name": "voice-" + h, "type": "azure-standard"},
        "instructions": "Be " + h,
        "agent": {"name": "agent-" + h},
    }
    rid, iid, uid = "resp_" + h, "item_a" + h, "item_u" + h
    fid, mid, aid = "fc_" + h, "mcp_" + h, "appr_" + h
    events: list[dict[str, Any]] = [
        {"type": "session.created", "event_id": "ev_" + h, "session": session},
        {"type": "session.updated", "event_id": "ev_" + h, "session": session},
        {"type": "input_audio_buffer.speech_started", "item_id": uid, "audio_start_ms": 0},
        {"type": "input_audio_buffer.speech_stopped", "item_id": uid, "audio_end_ms": 900},
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": uid,
            "transcript": "You: " + h,
        },
        {"type": "response.created", "response": {"id": rid, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "item": {"id": iid, "type": "message", "role": "assistant"},
        },
    ]
    # Three characters a frame: every sequence arrives split across deltas.
    events += [
        {"type": "response.audio_transcript.delta", "response_id": rid, "item_id": iid, "delta": d}
        for d in _chunks("Agent: " + h, 3)
    ]
    events += [
        {
            "type": "response.audio_timestamp.delta",
            "response_id": rid,
            "item_id": iid,
            "audio_offset_ms": 0,
            "audio_duration_ms": 200,
            "text": "Agent:",
        },
        {
            "type": "response.audio_transcript.annotation.added",
            "item_id": iid,
            "annotation": {"type": "url_citation", "title": "Cite " + h, "url": "https://x/" + h},
        },
        {
            "type": "response.audio_transcript.done",
            "response_id": rid,
            "item_id": iid,
            "transcript": "Agent: " + h,
        },
        {"type": "response.text.delta", "response_id": rid, "item_id": "t_" + h, "delta": h},
        {"type": "response.text.done", "response_id": rid, "item_id": "t_" + h, "text": h},
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "item": {
                "id": fid,
                "type": "function_call",
                "name": "tool_" + h,
                "call_id": "call_" + h,
                "arguments": "",
            },
        },
        {"type": "response.function_call_arguments.delta", "item_id": fid, "delta": h},
        {
            "type": "response.function_call_arguments.done",
            "item_id": fid,
            "call_id": "call_" + h,
            "arguments": json.dumps({"q": h}),
        },
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "item": {
                "id": mid,
                "type": "mcp_call",
                "name": "mcp_" + h,
                "server_label": "srv_" + h,
                "arguments": h,
            },
        },
        {
            "type": "conversation.item.created",
            "item": {
                "id": aid,
                "type": "mcp_approval_request",
                "name": "mcp_" + h,
                "server_label": "srv_" + h,
                "arguments": h,
            },
        },
        {
            "type": "response.output_item.done",
            "response_id": rid,
            "item": {"id": mid, "type": "mcp_call", "error": {"message": "MCP " + h}},
        },
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "item": {"id": "ws_" + h, "type": "web_search_call", "queries": ["Search " + h]},
        },
        {"type": "response.web_search_call.in_progress", "item_id": "ws_" + h},
        {"type": "response.web_search_call.completed", "item_id": "ws_" + h},
        {
            "type": "conversation.item.created",
            "item": {"id": "list_" + h, "type": "mcp_list_tools", "server_label": "srv_" + h},
        },
        {"type": "mcp_list_tools.failed", "item_id": "list_" + h},
        {"type": "response.mcp_call.in_progress", "item_id": mid},
        {"type": "warning", "warning": {"message": "Warn " + h}},
        {"type": "error", "error": {"type": "err_" + h, "code": "c_" + h, "message": "Err " + h}},
        {"type": "rate_limits.updated", "rate_limits": [{"name": h, "remaining": 1, "limit": 100}]},
        {"type": "x.unknown." + h, "item_id": "x_" + h},
        {"type": "response.done", "response": {"id": rid, "status": "completed"}},
        {"type": "response.created", "response": {"id": "r2_" + h, "status": "in_progress"}},
        {"type": "response.text.delta", "response_id": "r2_" + h, "item_id": "t2", "delta": h},
        {"type": "response.done", "response": {"id": "r2_" + h, "status": "failed " + h}},
    ]
    return events
