"""Credentials for the connection and agent access tokens for the legacy agent mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential

from voicelive_tui.config import Settings

Credential = Union[AzureKeyCredential, AsyncTokenCredential]  # noqa: UP007 (a runtime alias)
TokenCredentialFactory = Callable[[Settings], AsyncTokenCredential]

AI_SCOPE = "https://ai.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"
DEMO_KEY = "local-emulator-key"


class AuthError(Exception):
    """Authentication failed; the message is one line with a hint (exit 3)."""


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
    """A fresh agent access token; called before every (re)connect, never cached."""
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
