"""Opening a connection: tokens first, then the SDK's handshake, which quit() and a
time-out cancel cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.session.auth import (
    AI_SCOPE,
    AuthError,
    CachedTokenCredential,
    Credential,
    fetch_agent_access_token,
)
from voicelive_tui.session.reconnect import CLIENT_MAX_MSG_BYTES, HandshakeTimeout
from voicelive_tui.session.service_config import connect_kwargs

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOSE_TIMEOUT_S = 1.0
"""How long a close waits for the server's close frame (a frozen server sends none)."""


class Quit(Exception):
    """quit() was called while connecting."""


def _client_session_of(task: asyncio.Future[Any]) -> Any:
    """The aiohttp ClientSession a pending SDK handshake has opened, if any.

    The SDK's ``__aenter__`` does not close its ClientSession when cancelled (it catches
    only aiohttp errors), which leaks a socket and prints "Unclosed client session".
    """
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    frame = getattr(coro, "cr_frame", None)
    session = frame.f_locals.get("session") if frame is not None else None
    return session if isinstance(session, aiohttp.ClientSession) else None


async def _close_result(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        try:
            await close()
        except Exception:  # noqa: BLE001 - a late result we no longer want
            log.debug("Closing a late result failed", exc_info=True)


async def until_quit(
    awaitable: Awaitable[T], quit_event: asyncio.Event, timeout: float | None = None
) -> T:
    """Await ``awaitable`` unless ``quit_event`` is set first (raise Quit) or ``timeout``
    passes (raise asyncio.TimeoutError); either way it is cancelled."""
    task = asyncio.ensure_future(awaitable)
    quitting = asyncio.ensure_future(quit_event.wait())
    try:
        done, _ = await asyncio.wait(
            {task, quitting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        quitting.cancel()
    if task in done:
        return task.result()
    session = _client_session_of(task)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if session is not None:  # the SDK leaves it open when its handshake is cancelled
        await session.close()
    if not task.cancelled() and task.exception() is None:
        await _close_result(task.result())  # it finished as we gave up on it
    if quit_event.is_set():
        raise Quit
    raise asyncio.TimeoutError


async def open_connection(
    settings: Settings,
    *,
    endpoint: str,
    credential: Credential,
    token_credential: AsyncTokenCredential | None,
    tokens: CachedTokenCredential | None,
    logs: RunLogs,
    conversation_id: str | None,
    quitting: asyncio.Event,
) -> VoiceLiveConnection:
    """Fetch what the handshake needs, then connect; raises Quit, HandshakeTimeout, or
    what the SDK raises. Every token fetched is registered for redaction."""
    token = None
    if settings.mode == "legacy-agent":
        if token_credential is None:
            raise AuthError(
                "legacy agent mode needs an Entra ID credential for the agent access token"
            )
        token = await until_quit(fetch_agent_access_token(token_credential, settings), quitting)
        logs.add_secret(token)
        log.info("Obtained agent access token")
    if tokens is not None and not settings.uses_api_key:
        # Fetched here, not inside the handshake: a slow `az` is not a silent server.
        access = await until_quit(tokens.get_token(AI_SCOPE), quitting)
        logs.add_secret(access.token)
    kwargs = connect_kwargs(
        settings,
        endpoint=endpoint,
        credential=credential,
        conversation_id=conversation_id,
        agent_access_token=token,
    )
    kwargs["connection_options"] = {
        "heartbeat": settings.heartbeat,
        "max_msg_size": CLIENT_MAX_MSG_BYTES,
        "close_timeout": CLOSE_TIMEOUT_S,
    }
    log.info("Connecting to Voice Live (%s) at %s", settings.mode_label(), endpoint)
    manager = connect(**kwargs)
    timeout = settings.handshake_timeout
    try:
        return await until_quit(manager.__aenter__(), quitting, timeout)
    except asyncio.TimeoutError:
        raise HandshakeTimeout(
            f"the server did not answer the WebSocket handshake within {timeout:g} s"
        ) from None
