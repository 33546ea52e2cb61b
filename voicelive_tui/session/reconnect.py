"""Reconnect policy: back-off, and which connection failures end the app.

Pure functions, so the policy is tested without a network: :func:`failure_reason` turns
an exception from one connection attempt into the outage reason to show, or raises
:class:`~voicelive_tui.session.auth.AuthError` (exit 3) / :class:`ConnectFailed` (exit 4) when
retrying cannot help.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.exceptions import ClientAuthenticationError

from voicelive_tui.config import Settings
from voicelive_tui.errors import EXIT_CONNECT, VoiceLiveError
from voicelive_tui.logs import redact_secrets
from voicelive_tui.session.auth import AuthError, auth_hint

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
START_ATTEMPTS = 3
"""Attempts before "could not connect" when the app never connected."""


STABLE_AFTER_S = 10.0
"""A connection that stayed up this long resets the back-off; a shorter one does not,
so a server that accepts and closes at once cannot cause a reconnect storm."""
CLIENT_MAX_MSG_BYTES = 4 * 1024 * 1024


class ConnectFailed(VoiceLiveError):
    """The endpoint could not be reached at start; one line for the user (exit 4)."""

    exit_code = EXIT_CONNECT


class HandshakeTimeout(Exception):
    """The server accepted the TCP connection but did not finish the WebSocket handshake."""


@dataclass
class RetryPolicy:
    """When to try again: exponential back-off over failed or short-lived connections.

    ``failures`` counts attempts in a row that failed or closed within ``stable_after_s``
    of connecting; :attr:`keeps_closing` becomes true at ``cap``.
    """

    start_s: float = BACKOFF_START_S
    max_s: float = BACKOFF_MAX_S
    stable_after_s: float = STABLE_AFTER_S
    cap: int = 8
    failures: int = 0
    _up_since: float | None = None

    def connected(self, now: float) -> None:
        """A handshake succeeded at ``now``."""
        self._up_since = now

    def ended(self, now: float, rng: random.Random | None = None) -> float:
        """The attempt or connection ended at ``now``; the delay before the next one."""
        if self._up_since is not None and now - self._up_since >= self.stable_after_s:
            self.failures = 0
        self._up_since = None
        delay = backoff_delay(self.failures, rng, start_s=self.start_s, max_s=self.max_s)
        self.failures += 1
        return delay

    @property
    def keeps_closing(self) -> bool:
        return self.failures >= self.cap


def backoff_delay(
    attempt: int,
    rng: random.Random | None = None,
    *,
    start_s: float = BACKOFF_START_S,
    max_s: float = BACKOFF_MAX_S,
) -> float:
    """0.5 s doubling to 30 s, with +-20 % jitter so clients do not reconnect in step."""
    # Cap the exponent: 2.0 ** 1024 overflows a float after ~8.5 h of retries.
    base = min(max_s, start_s * (2.0 ** min(max(0, attempt), 16)))
    return base * (rng or random).uniform(0.8, 1.2)


def close_reason(code: int | None, error: BaseException | None, *, heartbeat: float) -> str:
    """Why an established socket ended, named by what really happened.

    ``code`` is the WebSocket close code aiohttp recorded (1006 when the socket was cut
    without a close frame, 1009 when our own frame limit was hit), ``error`` the
    exception it recorded (a missed pong is a ServerTimeoutError).
    """
    text = str(error or "")
    if "PONG" in text.upper():
        return f"the server stopped answering keep-alive pings (silent for {heartbeat * 1.5:g} s)"
    if code == 1009:
        limit = CLIENT_MAX_MSG_BYTES >> 20
        return f"the server sent a message over the client's {limit} MB limit (code 1009)"
    if code in (None, 1006):
        return "the connection dropped without a close frame (code 1006)"
    return f"closed by the server (code {code})"


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
    elif isinstance(exc, HandshakeTimeout):
        reason = str(exc)
    elif isinstance(exc, (OSError, asyncio.TimeoutError)):
        reason = f"network error: {short_error(exc)}"
    else:  # an SDK or transport surprise: survive it like any other outage
        reason = f"unexpected error: {exc.__class__.__name__}: {short_error(exc)}"
    if not ever_connected and attempts >= start_attempts:
        raise ConnectFailed(
            f"could not connect to {endpoint} after {attempts} attempts ({short_error(exc)})"
        ) from None
    return reason
