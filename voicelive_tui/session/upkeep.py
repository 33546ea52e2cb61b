"""What runs beside a live connection: fresh tokens, heard replies, session renewal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.auth import CachedTokenCredential
from voicelive_tui.session.conversation_log import ConversationLogWriter
from voicelive_tui.session.frames import connection_rtt_ms
from voicelive_tui.session.reconnect import short_error

log = logging.getLogger(__name__)

RENEW_MARGIN_S = 60.0
"""Renew a session this long before it expires (a quarter of a shorter lifetime)."""
TOKEN_RETRY_S = 10.0
PLAYBACK_CHECK_S = 0.1


async def keep_tokens_fresh(tokens: CachedTokenCredential) -> None:
    """Refresh tokens before they expire, so the next handshake has a valid one."""
    while True:
        wait = tokens.next_refresh_in()
        await asyncio.sleep(max(TOKEN_RETRY_S / 10, wait if wait is not None else 60.0))
        try:
            await tokens.refresh_due()
        except Exception as exc:  # noqa: BLE001 - try again; the handshake will tell
            log.warning("Token refresh failed: %s", short_error(exc))
            await asyncio.sleep(TOKEN_RETRY_S)


async def log_heard_replies(transcript: ConversationLogWriter) -> None:
    """A reply's line is written once its audio finished playing (see transcript): looked
    at every :data:`PLAYBACK_CHECK_S` while a line is held, and not at all otherwise (no
    wake-up of the loop while nothing is held)."""
    while True:
        if not transcript.holding:
            transcript.held.clear()
            await transcript.held.wait()
        await asyncio.sleep(PLAYBACK_CHECK_S)
        if transcript.holding:
            transcript.flush_heard()


EXPIRY_WARNING_S = 300.0
"""The session's end is announced (and counted down in the status bar) from 5 min out."""


async def renew_before_expiry(
    conversation: Conversation,
    connected_wall: float,
    between_turns: Callable[[], bool],
    warn: Callable[[float], None] = lambda left: None,
) -> None:
    """Return between turns shortly before ``session.expires_at`` (the caller then
    reconnects; agent conversations continue through the conversation id), so a long
    talk never ends by surprise. ``warn`` is told the seconds left once, when they fall
    under :data:`EXPIRY_WARNING_S`. Runs forever when the session never expires."""
    warned = False
    while True:
        expires_at = conversation.session.expires_at
        if expires_at is None:
            await asyncio.sleep(1.0)
            continue
        if not warned and expires_at - time.time() <= EXPIRY_WARNING_S:
            warned = True
            warn(expires_at - time.time())
        lifetime = expires_at - connected_wall
        if lifetime <= 0:  # a clock far off ours: renewing would only loop
            log.warning("session.expires_at is already past; not renewing early")
            await asyncio.Event().wait()
        margin = min(RENEW_MARGIN_S, lifetime / 4)
        wait = expires_at - margin - time.time()
        if wait > 0:
            await asyncio.sleep(min(wait, 1.0))  # expires_at may change: look again
            continue
        if between_turns():
            log.info("Session expires in %.0f s: renewing it now", expires_at - time.time())
            return
        await asyncio.sleep(0.1)


RTT_EVERY_S = 2.0


async def sample_rtt(conn: Any, conversation: Conversation) -> None:
    """Keep the connection's round-trip time in the conversation, for the status bar."""
    while True:
        conversation.rtt_ms = connection_rtt_ms(conn)
        conversation.rtt_unavailable = conversation.rtt_ms is None
        await asyncio.sleep(RTT_EVERY_S)
