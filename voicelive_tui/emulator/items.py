"""Client input checking and the wire form of conversation items."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from azure.ai.voicelive import models as m

from .activity import parse_tool_item, wire_tool_item
from .state import StoredItem, new_id

__all__ = ["ClientInputError", "parse_item", "require", "wire_item"]


class ClientInputError(Exception):
    """Bad client input; answered with an ``error`` event, the connection stays up."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def require(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``data[key]`` if present and of type ``kind``, else a ClientInputError naming it."""
    value = data.get(key)
    if value is None:
        raise ClientInputError(
            "missing_required_parameter", f"Missing required parameter: '{key}'.", key
        )
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ClientInputError("invalid_type", f"Invalid type for '{key}'.", key)
    return value


def wire_item(item: StoredItem) -> Any:
    """The item as the service shows it in ``conversation.item.*`` events."""
    if item.role == "tool":
        return wire_tool_item(item)
    part: m.ContentPart
    if item.role == "assistant":
        part = (
            m.ResponseAudioContentPart(transcript=item.text)
            if item.kind == "audio"
            else m.ResponseTextContentPart(text=item.text)
        )
    elif item.kind == "audio":
        part = m.RequestAudioContentPart({"type": "input_audio", "transcript": item.text})
    else:
        part = m.RequestTextContentPart(text=item.text)
    return m.ResponseMessageItem(
        id=item.id, object="realtime.item", role=item.role, content=[part], status=item.status
    )


def parse_item(raw: dict[str, Any], session: dict[str, Any]) -> StoredItem:
    """Validate a client's ``conversation.item.create`` item: a message, a
    ``function_call_output`` or an ``mcp_approval_response``."""
    kind = raw.get("type")
    if kind == "function_call_output":
        require(raw, "call_id", str)
        output = raw.get("output")
        if output is not None and not isinstance(output, str):
            raise ClientInputError(
                "invalid_type", "item.output must be a string (JSON text).", "item.output"
            )
        return parse_tool_item(raw)
    if kind == "mcp_approval_response":
        require(raw, "approval_request_id", str)
        require(raw, "approve", bool)
        return parse_tool_item(raw)
    if kind != "message":
        raise ClientInputError(
            "invalid_value",
            "The emulator supports items of type 'message', 'function_call_output' and"
            " 'mcp_approval_response'.",
            "item.type",
        )
    role = raw.get("role")
    if role not in ("user", "system", "assistant"):
        raise ClientInputError(
            "invalid_value", "item.role must be 'user', 'system' or 'assistant'.", "item.role"
        )
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise ClientInputError(
            "missing_required_parameter", "item.content must be a non-empty list.", "item.content"
        )
    item_id = raw.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise ClientInputError("invalid_type", "Invalid type for 'item.id'.", "item.id")
    texts: list[str] = []
    audio = b""
    allowed = {"text", "output_text"} if role == "assistant" else {"input_text", "input_audio"}
    for i, part in enumerate(content):
        param = f"item.content[{i}]"
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype not in allowed or (ptype == "input_audio" and role != "user"):
            raise ClientInputError(
                "invalid_value", f"Unsupported content type {ptype!r} for role {role!r}.", param
            )
        if ptype == "input_audio":
            try:
                audio += base64.b64decode(part.get("audio") or "", validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ClientInputError(
                    "invalid_audio", "audio is not valid base64.", f"{param}.audio"
                ) from None
            continue
        text = part.get("text")
        if not isinstance(text, str):
            raise ClientInputError("invalid_type", "text must be a string.", f"{param}.text")
        texts.append(text)
    rate = int(session.get("input_audio_sampling_rate") or 24000)
    kind = "audio" if audio else "text"
    text = " ".join(texts) if texts or not audio else f"[speech, {len(audio) / (2 * rate):.1f} s]"
    return StoredItem(
        id=item_id or new_id("item"),
        role=role,
        kind=kind,
        text=text,
        audio=audio[: len(audio) - len(audio) % 2],
        rate=rate,
    )
