"""Credentials for the connection and agent access tokens for the legacy agent mode."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Union

from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.config import Settings
from voicelive_tui.errors import EXIT_AUTH, VoiceLiveError

Credential = Union[AzureKeyCredential, AsyncTokenCredential]  # noqa: UP007 (a runtime alias)

AI_SCOPE = "https://ai.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"
DEMO_KEY = "local-emulator-key"


class CachedTokenCredential(AsyncTokenCredential):
    """A token credential that keeps each scope's token until shortly before it expires.

    A token is refreshed ``min(5 min, half its lifetime)`` before ``expires_on``:
    :meth:`refresh_due` does that while connected, so the next handshake (where the
    service checks the token) never carries an expired one. :meth:`invalidate` drops the
    cache after the service rejected a token.
    """

    REFRESH_BEFORE_S = 300.0

    def __init__(self, inner: AsyncTokenCredential, clock: Callable[[], float] = time.time):
        self.inner = inner
        self.clock = clock
        self._cache: dict[tuple[str, ...], tuple[AccessToken, float]] = {}

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        cached = self._cache.get(scopes)
        if cached is not None and not kwargs and self.clock() < cached[1]:
            return cached[0]
        return await self._fetch(scopes, **kwargs)

    async def _fetch(self, scopes: tuple[str, ...], **kwargs: Any) -> AccessToken:
        now = self.clock()
        token = await self.inner.get_token(*scopes, **kwargs)
        lifetime = max(0.0, token.expires_on - now)
        refresh_at = token.expires_on - min(self.REFRESH_BEFORE_S, lifetime / 2)
        self._cache[scopes] = (token, refresh_at)
        return token

    def next_refresh_in(self) -> float | None:
        """Seconds until the first cached token is due for a refresh (None: none cached)."""
        if not self._cache:
            return None
        return min(at for _token, at in self._cache.values()) - self.clock()

    async def refresh_due(self) -> None:
        """Fetch a new token for every scope whose token is due."""
        now = self.clock()
        for scopes, (_token, at) in list(self._cache.items()):
            if now >= at:
                await self._fetch(scopes)

    def invalidate(self) -> None:
        self._cache.clear()

    async def close(self) -> None:
        await self.inner.close()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AuthError(VoiceLiveError):
    """Authentication failed; the message is one line with a hint (exit 3)."""

    exit_code = EXIT_AUTH


def make_token_credential(settings: Settings) -> AsyncTokenCredential:
    """DefaultAzureCredential (default) or AzureCliCredential, as --credential says."""
    from azure.identity.aio import AzureCliCredential, DefaultAzureCredential

    if settings.credential == "cli":
        return AzureCliCredential()
    return DefaultAzureCredential()


def needs_token_credential(settings: Settings) -> bool:
    """True when some token must come from Entra ID (connection or agent access token)."""
    return not settings.uses_api_key or settings.mode == "legacy-agent"


def agent_token_scope(settings: Settings) -> str:
    """Scope of the legacy agent access token: ml.azure.com for hub connection strings."""
    return ML_SCOPE if settings.agent_connection_string else AI_SCOPE


async def fetch_agent_access_token(credential: AsyncTokenCredential, settings: Settings) -> str:
    """The agent access token for the next (re)connect (cached by CachedTokenCredential)."""
    try:
        token = await credential.get_token(agent_token_scope(settings))
    except Exception as exc:  # azure.identity raises several types; all mean "not signed in"
        raise AuthError(
            f"could not get an agent access token ({exc.__class__.__name__}); "
            "run 'az login' or check --credential"
        ) from None
    return token.token


def auth_hint(settings: Settings) -> str:
    """What the user should check when the service answers 401/403."""
    if settings.uses_api_key:
        return "check the API key (--api-key / AZURE_VOICELIVE_API_KEY)"
    return "run 'az login' and check the 'Cognitive Services User' role"
