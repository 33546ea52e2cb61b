"""The SDK connection's socket: what arrives on it (server events, frames that are not,
close causes) and the one text sent past the SDK's encoder (:func:`send_text`)."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from azure.ai.voicelive.aio import ConnectionClosed, VoiceLiveConnection
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.ai.voicelive.models import ServerEvent
from azure.core.exceptions import DeserializationError

from voicelive_tui.platform_support import tcp_rtt_ms
from voicelive_tui.session.reconnect import short_error

SDK_SEND_LOG = logging.getLogger("azure.ai.voicelive.aio._patch")
"""The logger the SDK's ``VoiceLiveConnection.send`` reports a failed send on."""
SDK_SEND_ERRORS = (TypeError, ValueError, aiohttp.ClientError, RuntimeError)
"""What the SDK's ``send`` turns into its ``ConnectionError`` (azure-ai-voicelive 1.3; a test
reads its source, so a release that changes it fails the tests, not users)."""

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
        # What the SDK's recv() does, minus its failure on non-objects (the SDK leaves
        # _deserialize untyped).
        event = ServerEvent._deserialize(payload, [])  # type: ignore[no-untyped-call]  # noqa: SLF001
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


def connection_rtt_ms(conn: Any) -> float | None:
    """The kernel's smoothed round-trip time of the connection's TCP socket, in ms; None
    where it cannot be read (no socket, or a platform whose kernel does not offer it)."""
    ws = getattr(conn, "_connection", None)
    transport = getattr(getattr(ws, "_conn", None), "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    return tcp_rtt_ms(sock) if sock is not None else None


async def send_text(conn: VoiceLiveConnection, text: str) -> None:
    """``text`` (one event's JSON) as a text frame on the SDK connection's socket, as the
    SDK's ``send`` sends the JSON it makes: its aiohttp socket's ``send_str``, and its error
    handling (logged on its logger, raised as its ``ConnectionError``). For the microphone's
    appends, 50 a second, whose JSON :func:`~voicelive_tui.protocol.append_text` builds
    without the SDK's ``json.dumps`` (a dict copy and a new encoder each call)."""
    ws = getattr(conn, "_connection", None)
    if not isinstance(ws, aiohttp.ClientWebSocketResponse):  # an SDK that changed: its way
        await conn.send(json.loads(text))
        return
    try:
        await ws.send_str(text)
    except SDK_SEND_ERRORS as e:
        SDK_SEND_LOG.error("Failed to send event: %s", e)
        raise SdkConnectionError(f"Failed to send event: {e}") from e
