"""Reconnect policy: back-off, and which connection failures end the app.

Pure functions, so the policy is tested without a network: :func:`failure_reason` turns
an exception from one connection attempt into the outage reason to show, or raises
:class:`~voicelive_tui.auth.AuthError` (exit 3) / :class:`ConnectFailed` (exit 4) when
retrying cannot help.
"""

from __future__ import annotations

import asyncio
import random

from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.exceptions import ClientAuthenticationError

from voicelive_tui.auth import AuthError, auth_hint
from voicelive_tui.config import Settings
from voicelive_tui.logs import redact_secrets

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
START_ATTEMPTS = 3
"""Attempts before "could not connect" when the app never connected."""


class ConnectFailed(Exception):
    """The endpoint could not be reached at start; one line for the user (exit 4)."""


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """0.5 s doubling to 30 s, with +-20 % jitter so clients do not reconnect in step."""
    # Cap the exponent: 2.0 ** 1024 overflows a float after ~8.5 h of retries.
    base = min(BACKOFF_MAX_S, BACKOFF_START_S * (2.0 ** min(max(0, attempt), 16)))
    return base * (rng or random).uniform(0.8, 1.2)


def handshake_status(exc: BaseException) -> int | None:
    """HTTP status of a failed WebSocket handshake, if the failure carries one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = getattr(current, "status", None)
        if isinstance(status, int):
            return status
        current = current.__cause__ or current.__context__
    return None


def short_error(exc: BaseException) -> str:
    """An exception as one line of at most 160 characters, secrets removed.

    aiohttp puts the whole URL in handshake errors, and the legacy agent mode's URL
    carries the agent access token: this text reaches the screen and stderr.
    """
    text = redact_secrets(" ".join(str(exc).split())) or exc.__class__.__name__
    return text if len(text) <= 160 else text[:159] + "…"


def failure_reason(
    exc: BaseException,
    *,
    settings: Settings,
    endpoint: str,
    ever_connected: bool,
    attempts: int,
    start_attempts: int = START_ATTEMPTS,
) -> str:
    """The outage reason for a failed attempt, or raise when retrying cannot help.

    ``attempts`` counts the failed attempts so far, this one included.
    """
    if isinstance(exc, AuthError):
        raise exc
    if isinstance(exc, ClientAuthenticationError):
        raise AuthError(
            f"could not get a token ({exc.__class__.__name__}): {auth_hint(settings)}"
        ) from None
    if isinstance(exc, VoiceLiveConnectionError):
        status = handshake_status(exc)
        if status in (401, 403):
            raise AuthError(
                f"authentication failed (HTTP {status}): {auth_hint(settings)}"
            ) from None
        reason = f"could not connect: {short_error(exc)}"
    elif isinstance(exc, (OSError, asyncio.TimeoutError)):
        reason = f"network error: {short_error(exc)}"
    else:  # an SDK or transport surprise: survive it like any other outage
        reason = f"unexpected error: {exc.__class__.__name__}: {short_error(exc)}"
    if not ever_connected and attempts >= start_attempts:
        raise ConnectFailed(
            f"could not connect to {endpoint} after {attempts} attempts ({short_error(exc)})"
        ) from None
    return reason
