"""Which connection failures retry, which end the app (exit 3 / 4), and what is shown."""

from __future__ import annotations

import aiohttp
import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.exceptions import ClientAuthenticationError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from voicelive_tui.config import Settings
from voicelive_tui.session.auth import AuthError
from voicelive_tui.session.reconnect import ConnectFailed, failure_reason, handshake_status

ENDPOINT = "https://example.services.ai.azure.com/"


def handshake_error(status: int, url: str = ENDPOINT) -> VoiceLiveConnectionError:
    """What the SDK raises when the WebSocket upgrade to ``url`` is answered with ``status``."""
    request = aiohttp.RequestInfo(URL(url), "GET", CIMultiDictProxy(CIMultiDict()), URL(url))
    cause = aiohttp.WSServerHandshakeError(
        request, (), status=status, message="Invalid response status"
    )
    try:
        raise VoiceLiveConnectionError(
            f"Failed to establish WebSocket connection: {cause}"
        ) from cause
    except VoiceLiveConnectionError as exc:
        return exc


def reason(exc: BaseException, settings: Settings | None = None, **kw) -> str:
    kw.setdefault("ever_connected", True)
    kw.setdefault("attempts", 1)
    return failure_reason(
        exc, settings=settings or Settings(api_key="k" * 8), endpoint=ENDPOINT, **kw
    )


@pytest.mark.parametrize("status", [401, 403])
def test_handshake_rejection_is_an_auth_error_with_a_hint(status: int) -> None:
    with pytest.raises(AuthError, match=rf"HTTP {status}.*check the API key"):
        reason(handshake_error(status))
    with pytest.raises(AuthError, match="az login"):
        reason(handshake_error(status), Settings())


def test_token_failure_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="could not get a token"):
        reason(ClientAuthenticationError("no az"), Settings())


def test_server_error_retries_while_we_were_connected_before() -> None:
    assert handshake_status(handshake_error(503)) == 503
    text = reason(handshake_error(503), attempts=50)
    assert text.startswith("could not connect:")


def test_unreachable_at_start_gives_up_after_the_first_attempts() -> None:
    err = VoiceLiveConnectionError("Failed to establish WebSocket connection: refused")
    assert reason(err, ever_connected=False, attempts=2).startswith("could not connect")
    with pytest.raises(ConnectFailed, match=f"could not connect to {ENDPOINT} after 3 attempts"):
        reason(err, ever_connected=False, attempts=3)


def test_network_and_unexpected_errors_are_outages_not_crashes() -> None:
    assert reason(OSError("network unreachable")).startswith("network error:")
    assert reason(RuntimeError("boom")) == "unexpected error: RuntimeError: boom"


def test_reasons_are_one_short_line() -> None:
    text = reason(OSError("x\n" * 500))
    assert "\n" not in text and len(text) < 200


def test_handshake_errors_never_show_the_agent_access_token() -> None:
    url = ENDPOINT + "voice-live/realtime?api-version=1&agent-id=a&agent-access-token=SECRET123"
    err = handshake_error(500, url)
    assert "SECRET123" in str(err)  # what aiohttp and the SDK put in the message
    assert "SECRET123" not in reason(err)
    with pytest.raises(ConnectFailed) as failed:
        reason(err, ever_connected=False, attempts=3)
    assert "SECRET123" not in str(failed.value)
