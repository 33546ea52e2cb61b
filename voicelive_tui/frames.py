"""What arrives on the socket: server events, frames that are not, and close causes."""

from __future__ import annotations

import json
from typing import Any

from azure.ai.voicelive.aio import ConnectionClosed
from azure.ai.voicelive.models import ServerEvent
from azure.core.exceptions import DeserializationError

from voicelive_tui.reconnect import short_error

MALFORMED = "<malformed>"
"""The key under which frames that are not server events are counted."""


def parse_server_event(raw: bytes) -> tuple[ServerEvent | None, str]:
    """A frame as a typed server event, or (None, why it is not one)."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"not JSON ({short_error(exc)})"
    if not isinstance(payload, dict):
        return None, f"JSON {type(payload).__name__}, not an object"
    if not isinstance(payload.get("type"), str):
        return None, "an object with no 'type'"
    try:
        # What the SDK's recv() does, minus its failure on non-objects.
        event = ServerEvent._deserialize(payload, [])  # noqa: SLF001
    except (DeserializationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return None, f"not a valid {payload['type']} event ({short_error(exc)})"
    return event, ""


def close_code(conn: Any, exc: ConnectionClosed) -> tuple[int, BaseException | None]:
    """The close code and transport error behind a ConnectionClosed.

    aiohttp's socket knows the real cause; a socket that ended without a close frame has
    no close code there, which is 1006 (the SDK calls it 1000).
    """
    ws = getattr(conn, "_connection", None)
    if ws is None:
        return exc.code, None
    return ws.close_code or (1006 if exc.code == 1000 else exc.code), ws.exception()
