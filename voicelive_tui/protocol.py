"""Pure Voice Live wire helpers: event families, summaries, audio sizes and elision,
and reading fields of the wrong shape (``obj``, ``ident``).

No I/O and no configuration here: everything takes plain values and returns plain
values, so it is tested with lists of dicts and used by the session, console mode and the
dashboard alike. The session configuration, which needs ``Settings``, is
:mod:`voicelive_tui.session.service_config`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from voicelive_tui.safe_text import displayable

BENIGN_CANCEL_ERROR = "no active response"
"""Substring of the error the service sends for a cancel with nothing to cancel."""

AUDIO_DELTA = "response.audio.delta"
APPEND = "input_audio_buffer.append"
_APPEND_HEAD, _APPEND_TAIL = '{"audio": "', f'", "type": "{APPEND}"}}'
PREVIEW_CHARS = 80
"""How much of a text one summary line shows, unless it says otherwise."""


def append_text(audio: str) -> str:
    """The JSON text of ``input_audio_buffer.append`` with base64 ``audio``: what the SDK's
    ``json.dumps`` makes of ``{"audio": audio, "type": APPEND}``, character for character
    (base64 has no character JSON escapes), without encoding the dict 50 times a second."""
    return _APPEND_HEAD + audio + _APPEND_TAIL


def is_benign_cancel_error(message: str | None) -> bool:
    """The error a cancel gets when the response already finished: expected, not shown."""
    return BENIGN_CANCEL_ERROR in (message or "").lower()


# Event families for colouring and filtering.
FAMILY_PREFIXES = (
    ("error", ("error",)),
    ("session", ("session.",)),
    ("input", ("input_audio_buffer.", "conversation.item.input_audio_transcription")),
    ("audio", ("response.audio.", "output_audio_buffer.")),
    ("response", ("response.",)),
    ("conversation", ("conversation.",)),
)


def event_family(event_type: str) -> str:
    """ "session", "input", "audio", "response", "conversation", "error" or "other"."""
    for family, prefixes in FAMILY_PREFIXES:
        if event_type.startswith(prefixes):
            return family
    return "other"


def family_of(event: Mapping[str, Any]) -> str:
    """The family of an event; the benign "no active response" error is not an error."""
    kind = str(event.get("type", ""))
    if kind == "error" and is_benign_cancel_error((event.get("error") or {}).get("message")):
        return "other"
    return event_family(kind)


def preview(text: Any, limit: int = PREVIEW_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = displayable(" ".join(str(text).split()), one_line=True)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a field of the wrong shape)."""
    return value if isinstance(value, dict) else {}


def ident(value: Any) -> str | None:
    """``value`` when it is a non-empty string id, else None."""
    return value if isinstance(value, str) and value else None


def quoted(text: str) -> str:
    """``text`` (already displayable) in quotes, as ``repr`` puts it, but with its escapes
    (``\\x1b``) written once, as everywhere else, not doubled."""
    return repr(text).replace("\\\\", "\\")


def shown(value: Any) -> str | None:
    """:func:`ident`, made displayable on one line: a value that is only ever shown."""
    value = ident(value)
    return None if value is None else displayable(value, one_line=True)


ELIDED_BYTES = re.compile(r"<(\d+) bytes>")
"""Audio as :func:`elide_audio` writes it into the events log."""


def audio_bytes(event: Mapping[str, Any]) -> int:
    """Bytes of PCM in an audio event, whether it carries bytes or base64 text."""
    data = event.get("delta") if event.get("type") == AUDIO_DELTA else event.get("audio")
    if isinstance(data, str) and (elided := ELIDED_BYTES.fullmatch(data)):
        return int(elided.group(1))  # an events-log line (see elide_audio), as --replay reads
    if isinstance(data, (str, bytes, bytearray)):
        return _pcm_len(data)
    if isinstance(data, int):
        return data
    return 0


SILENCE_PEAK = 32
"""A PCM16 sample at or below this magnitude (about -60 dBFS) is silence."""


def is_silent_delta(event: Mapping[str, Any]) -> bool:
    """True when an audio delta carries samples and all of them are silence (a leading
    delta of silence is not the agent's first sound). An elided or undecodable delta
    (an events-log line) is taken as sound: its samples are not known."""
    data = event.get("delta")
    if isinstance(data, str):
        if ELIDED_BYTES.fullmatch(data):
            return False
        try:
            data = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            return False
    if not isinstance(data, (bytes, bytearray)) or len(data) < 2:
        return False
    samples = array("h", bytes(data[: len(data) // 2 * 2]))  # PCM16 little-endian
    if sys.byteorder == "big":
        samples.byteswap()
    return max(samples) <= SILENCE_PEAK and min(samples) >= -SILENCE_PEAK


def pcm_ms(num_bytes: int, rate: int = 24_000) -> float:
    """Milliseconds of PCM16 mono audio in ``num_bytes``."""
    return num_bytes / 2 / rate * 1000


def _item_parts(item: Mapping[str, Any]) -> list[str]:
    """What a conversation item is: a message's role and text, or a tool call, its result,
    an approval request or answer."""
    kind = str(item.get("type") or "message")
    ident = str(item.get("id", "") or "")
    if kind == "message":
        text = item_text(item)
        return [ident, str(item.get("role", "")), quoted(preview(text, 40)) if text else ""]
    name = item.get("name") or ""
    label = item.get("server_label")
    call = f"{label}.{name}" if label else str(name)
    if kind == "function_call_output":
        return [kind, str(item.get("call_id", "")), preview(str(item.get("output", "")), 40)]
    if kind == "mcp_approval_response":
        answer = "approved" if item.get("approve") else "denied"
        return [kind, str(item.get("approval_request_id", "")), answer]
    return [kind, ident, call, preview(str(item.get("arguments") or ""), 40)]


def summarize(event: Mapping[str, Any]) -> str:
    """One short line describing an event: ids, durations, snippets, error messages;
    displayable (the event's text is the service's)."""
    return displayable(_summary(event), one_line=True)


def _summary(event: Mapping[str, Any]) -> str:
    kind = str(event.get("type", "?"))
    parts: list[str] = []
    if kind == "error":
        err = event.get("error") or {}
        code = err.get("code") or err.get("type") or ""
        text = preview(f"{code}: {err.get('message', '')}".strip(": "), 90)
        return f"(benign after barge-in) {text}" if is_benign_cancel_error(text) else text
    if kind in ("session.created", "session.updated"):
        session = event.get("session") or {}
        voice = voice_name(session)
        agent = session.get("agent") or {}
        parts += [str(session.get("id", "")), f"voice={voice}" if voice else ""]
        if agent:
            parts.append(f"agent={agent.get('name')}")
        elif session.get("model"):
            parts.append(f"model={session.get('model')}")
    elif kind == "session.update":
        session = event.get("session") or {}
        voice = voice_name(session)
        vad = session.get("turn_detection") or {}
        parts += [f"voice={voice}" if voice else "", f"vad={vad.get('threshold')}" if vad else ""]
    elif kind in (AUDIO_DELTA, APPEND):
        n = audio_bytes(event)
        parts.append(f"{n} B, {pcm_ms(n):.0f} ms")
    elif kind == "input_audio_buffer.speech_started":
        parts.append(f"at {event.get('audio_start_ms')} ms")
    elif kind == "input_audio_buffer.speech_stopped":
        parts.append(f"at {event.get('audio_end_ms')} ms")
    elif kind.endswith("transcript.delta") or kind == "response.text.delta":
        parts.append(quoted(preview(event.get("delta", ""), 40)))
    elif kind in (
        "response.audio_transcript.done",
        "conversation.item.input_audio_transcription.completed",
    ):
        parts.append(quoted(preview(event.get("transcript", ""), 60)))
    elif kind == "response.text.done":
        parts.append(quoted(preview(event.get("text", ""), 60)))
    elif kind in ("response.created", "response.done"):
        response = event.get("response") or {}
        parts += [str(response.get("id", "")), str(response.get("status", ""))]
    elif kind in ("conversation.item.truncate", "conversation.item.truncated"):
        parts += [str(event.get("item_id", "")), f"audio_end_ms={event.get('audio_end_ms')}"]
    elif kind in ("conversation.item.created", "conversation.item.create"):
        item = event.get("item") or {}
        parts += _item_parts(item)
    elif kind in ("response.output_item.added", "response.output_item.done"):
        item = event.get("item") or {}
        if item.get("type") not in (None, "message"):
            parts += _item_parts(item)
    elif kind.endswith("arguments.done"):
        parts.append(preview(str(event.get("arguments", "")), 60))
    elif kind == "response.audio_timestamp.delta":
        parts.append(
            f"{event.get('text', '')!r} at {event.get('audio_offset_ms')} ms"
            f" for {event.get('audio_duration_ms')} ms"
        )
    elif kind == "response.audio_transcript.annotation.added":
        note = event.get("annotation") or {}
        parts.append(preview(str(note.get("title") or note.get("url") or note.get("type")), 60))
    elif kind == "response.invocation.delta":
        # A hosted agent's own (non-speech) event, passed through as it came.
        raw = event.get("delta")
        if isinstance(raw, Mapping):
            parts.append(str(raw.get("type") or raw.get("event") or "invocation"))
        parts.append(preview(json.dumps(raw, default=str, ensure_ascii=False), 60))
    elif kind == "warning":
        parts.append(preview(str((event.get("warning") or {}).get("message", "")), 90))
    elif kind == "rate_limits.updated":
        limits = event.get("rate_limits") or []
        parts += [
            f"{limit.get('name')} {limit.get('remaining')}/{limit.get('limit')}"
            for limit in limits
            if isinstance(limit, Mapping)
        ]
    if not parts:
        for key in ("item_id", "response_id", "event_id"):
            if event.get(key):
                parts.append(str(event[key]))
                break
    return " ".join(p for p in parts if p)


def text_field(event: Mapping[str, Any], key: str) -> str:
    """A text field of an event (a transcript, a message), on one line and displayable."""
    return displayable(str(event.get(key, "")), one_line=True)


def item_text(item: Mapping[str, Any]) -> str:
    """The text of a conversation item: its content parts' text (or transcript), joined."""
    texts = (
        str(part.get("text") or part.get("transcript") or "")
        for part in item.get("content") or []
        if isinstance(part, Mapping)
    )
    return " ".join(t for t in texts if t).strip()


def voice_name(session: Mapping[str, Any]) -> str | None:
    """The session's voice as a name, whether it is an Azure voice object or a string."""
    voice = session.get("voice")
    if isinstance(voice, Mapping):
        return voice.get("name")
    return voice


AUDIO_EVENT_TYPES = frozenset({AUDIO_DELTA, APPEND})
"""Events whose ``delta``/``audio`` field is PCM audio (elsewhere ``delta`` is text)."""


def elide_audio(event: Mapping[str, Any], unit: str = "bytes") -> dict[str, Any]:
    """A copy of ``event`` with audio (bytes or base64 text) replaced by ``<N unit>``.

    Recurses into nested objects and lists, so item content parts carrying ``audio``
    are elided too; transcript and text deltas are left as they are.
    """
    out: dict[str, Any] = {}
    for key, value in event.items():
        if _is_audio(event, key, value):
            out[key] = f"<{_pcm_len(value)} {unit}>"
        elif isinstance(value, Mapping):
            out[key] = elide_audio(value, unit)
        elif isinstance(value, list):
            out[key] = [elide_audio(v, unit) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def _is_audio(event: Mapping[str, Any], key: str, value: Any) -> bool:
    if key not in ("delta", "audio") or not isinstance(value, (str, bytes, bytearray)):
        return False
    if isinstance(value, str) and value.startswith("<"):
        return False  # already elided ("<N bytes>"); base64 never holds "<"
    return key == "audio" or event.get("type") in AUDIO_EVENT_TYPES


def _pcm_len(data: str | bytes | bytearray) -> int:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    return max(0, len(data) * 3 // 4 - data[-2:].count("="))


def elide_for_display(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an event for the JSON view: audio replaced by its size."""
    return elide_audio(event, "bytes of audio")


TEXT_STREAMING_API = "2026-07-15"
"""The first API version with ``input_text.delta``/``done`` (typed text streamed into an item)."""


def streams_text(api_version: str | None) -> bool:
    """Typed text can be streamed: the SDK's default API version (None) or 2026-07-15 on.

    Versions are dates, so they compare as text; a preview suffix sorts after its date."""
    return api_version is None or api_version >= TEXT_STREAMING_API


def text_deltas(text: str, words: int = 3) -> list[str]:
    """``text`` in pieces of a few words (with their spaces), as typing would send it."""
    parts = text.split(" ")
    return [
        " ".join(parts[at : at + words]) + (" " if at + words < len(parts) else "")
        for at in range(0, len(parts), words)
    ]
