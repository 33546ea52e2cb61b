"""Protocol helpers: the seed's session config, connect arguments per mode, scopes, summaries."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import ClientEventInputAudioBufferAppend
from azure.core.credentials import AccessToken, AzureKeyCredential
from hypothesis import given
from hypothesis import strategies as st

from voicelive_tui.config.resolve import DEFAULT_INSTRUCTIONS, Settings
from voicelive_tui.protocol import (
    APPEND,
    append_text,
    elide_for_display,
    event_family,
    is_benign_cancel_error,
    summarize,
)
from voicelive_tui.session.auth import (
    AI_SCOPE,
    ML_SCOPE,
    AuthError,
    agent_token_scope,
    fetch_agent_access_token,
    needs_token_credential,
)
from voicelive_tui.session.frames import send_text
from voicelive_tui.session.service_config import (
    SessionOverrides,
    build_session_config,
    connect_kwargs,
)

ENDPOINT = "https://res.services.ai.azure.com/"
KEY = AzureKeyCredential("k")


def wire(settings: Settings) -> dict[str, Any]:
    """The session.update payload as it goes on the wire."""
    return build_session_config(settings).as_dict()


def sdk_query(kwargs: dict[str, Any]) -> dict[str, str]:
    """The query string the SDK builds from these connect() arguments (no network)."""
    manager = connect(**kwargs)
    url = manager._prepare_url()  # the SDK's own URL builder; nothing is dialled
    assert urlparse(url).path.endswith("/voice-live/realtime")
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


# -- session config --------------------------------------------------------------------------


def test_session_config_matches_the_seed() -> None:
    config = wire(Settings())
    assert config["modalities"] == ["text", "audio"]
    assert config["voice"] == {"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"}
    assert config["input_audio_format"] == "pcm16"
    assert config["output_audio_format"] == "pcm16"
    assert config["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
    }
    assert config["input_audio_echo_cancellation"] == {"type": "server_echo_cancellation"}
    assert config["input_audio_noise_reduction"] == {"type": "azure_deep_noise_suppression"}


def test_no_audio_asks_for_text_only() -> None:
    assert wire(Settings(no_audio=True))["modalities"] == ["text"]


@pytest.mark.parametrize("voice", ["alloy", "echo", "shimmer"])
def test_names_without_a_dash_are_openai_voices(voice: str) -> None:
    assert wire(Settings(voice=voice))["voice"] == voice


@pytest.mark.parametrize("voice", ["en-US-GuyNeural", "de-DE-Seraphina:DragonHDLatestNeural"])
def test_names_with_a_dash_are_azure_voices(voice: str) -> None:
    assert wire(Settings(voice=voice))["voice"] == {"name": voice, "type": "azure-standard"}


def test_vad_values_come_from_settings() -> None:
    config = wire(Settings(vad_threshold=0.8, vad_prefix_ms=200, vad_silence_ms=900))
    vad = config["turn_detection"]
    assert (vad["threshold"], vad["prefix_padding_ms"], vad["silence_duration_ms"]) == (
        0.8,
        200,
        900,
    )


def test_echo_cancellation_and_noise_suppression_can_be_turned_off() -> None:
    config = wire(Settings(echo_cancellation=False, noise_suppression=False))
    assert "input_audio_echo_cancellation" not in config
    assert config["input_audio_noise_reduction"] is None  # null: off, also on a live edit


def test_instructions_only_in_model_mode() -> None:
    assert wire(Settings())["instructions"] == DEFAULT_INSTRUCTIONS
    assert wire(Settings(instructions="Speak like a pirate."))["instructions"] == (
        "Speak like a pirate."
    )
    agent = Settings(agent_name="helper", project_name="proj", instructions="ignored")
    legacy = Settings(agent_id="asst_1", project_name="proj", instructions="ignored")
    assert "instructions" not in wire(agent)
    assert "instructions" not in wire(legacy)


def test_voice_override_wins_over_settings() -> None:
    config = build_session_config(Settings(), SessionOverrides(voice="alloy"))
    assert config.as_dict()["voice"] == "alloy"


# -- connect kwargs ----------------------------------------------------------------------------


def test_model_mode_kwargs() -> None:
    kwargs = connect_kwargs(Settings(), endpoint=ENDPOINT, credential=KEY)
    assert kwargs == {"endpoint": ENDPOINT, "credential": KEY, "model": "gpt-realtime"}
    query = sdk_query(kwargs)
    assert query["model"] == "gpt-realtime"
    assert not any(k.startswith("agent") for k in query)


def test_model_mode_with_explicit_model_and_api_version() -> None:
    settings = Settings(model="gpt-4o-realtime-preview", api_version="2025-10-01")
    kwargs = connect_kwargs(settings, endpoint=ENDPOINT, credential=KEY)
    assert kwargs["model"] == "gpt-4o-realtime-preview"
    assert sdk_query(kwargs)["api-version"] == "2025-10-01"


def test_foundry_agent_kwargs_minimal() -> None:
    settings = Settings(agent_name="helper", project_name="proj")
    kwargs = connect_kwargs(settings, endpoint=ENDPOINT, credential=KEY)
    assert kwargs == {
        "endpoint": ENDPOINT,
        "credential": KEY,
        "agent_name": "helper",
        "project_name": "proj",
    }
    query = sdk_query(kwargs)
    assert (query["agent-name"], query["agent-project-name"]) == ("helper", "proj")
    assert "model" not in query


def test_foundry_agent_kwargs_with_every_option() -> None:
    settings = Settings(
        agent_name="helper",
        project_name="proj",
        agent_version="3",
        conversation_id="conv_configured",
        foundry_resource_override="other-resource",
        auth_identity_client_id="client-id-1",
    )
    kwargs = connect_kwargs(settings, endpoint=ENDPOINT, credential=KEY)
    assert kwargs["agent_version"] == "3"
    assert kwargs["conversation_id"] == "conv_configured"
    assert kwargs["foundry_resource_override"] == "other-resource"
    assert kwargs["authentication_identity_client_id"] == "client-id-1"
    assert "query" not in kwargs and "model" not in kwargs
    query = sdk_query(kwargs)
    assert query["agent-version"] == "3"
    assert query["conversation-id"] == "conv_configured"
    assert query["foundry-resource-override"] == "other-resource"
    assert query["agent-authentication-identity-client-id"] == "client-id-1"


def test_reconnect_uses_the_conversation_id_the_service_gave() -> None:
    settings = Settings(agent_name="helper", project_name="proj", conversation_id="conv_old")
    kwargs = connect_kwargs(
        settings, endpoint=ENDPOINT, credential=KEY, conversation_id="conv_from_service"
    )
    assert kwargs["conversation_id"] == "conv_from_service"


def test_legacy_agent_with_project_name() -> None:
    settings = Settings(agent_id="asst_1", project_name="proj")
    kwargs = connect_kwargs(
        settings, endpoint=ENDPOINT, credential=KEY, agent_access_token="tok-123"
    )
    assert kwargs["query"] == {
        "agent-id": "asst_1",
        "agent-project-name": "proj",
        "agent-access-token": "tok-123",
    }
    assert "agent_name" not in kwargs and "model" not in kwargs
    query = sdk_query(kwargs)
    assert query["agent-access-token"] == "tok-123"
    assert query["agent-id"] == "asst_1"


def test_legacy_agent_with_hub_connection_string() -> None:
    settings = Settings(agent_id="asst_1", agent_connection_string="eastus;sub;rg;hub")
    kwargs = connect_kwargs(
        settings, endpoint=ENDPOINT, credential=KEY, agent_access_token="tok-ml"
    )
    assert kwargs["query"] == {
        "agent-id": "asst_1",
        "agent-connection-string": "eastus;sub;rg;hub",
        "agent-access-token": "tok-ml",
    }


# -- token scope and credentials -----------------------------------------------------------------


def test_agent_token_scope_is_ai_for_projects_and_ml_for_hubs() -> None:
    assert AI_SCOPE == "https://ai.azure.com/.default"
    assert ML_SCOPE == "https://ml.azure.com/.default"
    assert agent_token_scope(Settings(agent_id="a", project_name="p")) == AI_SCOPE
    assert agent_token_scope(Settings(agent_id="a", agent_connection_string="c")) == ML_SCOPE


def test_token_credential_needed_without_key_or_for_legacy_agent() -> None:
    assert not needs_token_credential(Settings(api_key="k"))
    assert needs_token_credential(Settings())
    assert needs_token_credential(Settings(api_key="k", use_token_credential=True))
    # The legacy agent mode needs an agent access token even with key auth.
    assert needs_token_credential(Settings(api_key="k", agent_id="a", project_name="p"))


class FixedTokenCredential:
    """An AsyncTokenCredential test double recording the scopes it was asked for."""

    def __init__(self, token: str = "tok", fail: bool = False) -> None:
        self.token = token
        self.fail = fail
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        if self.fail:
            raise RuntimeError("not signed in")
        return AccessToken(self.token, 4102444800)

    async def close(self) -> None:
        pass


async def test_agent_access_token_is_fetched_with_the_right_scope_every_time() -> None:
    cred = FixedTokenCredential("agent-tok")
    hub = Settings(agent_id="a", agent_connection_string="c")
    assert await fetch_agent_access_token(cred, hub) == "agent-tok"
    assert await fetch_agent_access_token(cred, hub) == "agent-tok"
    assert cred.scopes == [(ML_SCOPE,), (ML_SCOPE,)]  # asked again, never cached here


async def test_agent_access_token_failure_is_an_auth_error_with_a_hint() -> None:
    with pytest.raises(AuthError, match=r"az login") as info:
        await fetch_agent_access_token(FixedTokenCredential(fail=True), Settings())
    assert "\n" not in str(info.value)


# -- summaries and families ------------------------------------------------------------------


def b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


@pytest.mark.parametrize(
    ("event", "summary"),
    [
        (
            {"type": "error", "error": {"code": "invalid_value", "message": "Bad voice"}},
            "invalid_value: Bad voice",
        ),
        (
            {"type": "error", "error": {"message": "Cancellation failed: no active response"}},
            "(benign after barge-in) Cancellation failed: no active response",
        ),
        (
            {
                "type": "session.updated",
                "session": {"id": "sess_1", "voice": {"name": "en-US-Ava"}, "model": "gpt-rt"},
            },
            "sess_1 voice=en-US-Ava model=gpt-rt",
        ),
        (
            {"type": "session.created", "session": {"id": "s2", "agent": {"name": "helper"}}},
            "s2 agent=helper",
        ),
        ({"type": "response.audio.delta", "delta": b64(4800)}, "4800 B, 100 ms"),
        ({"type": "response.audio.delta", "delta": bytes(960)}, "960 B, 20 ms"),
        ({"type": "input_audio_buffer.append", "audio": b64(960)}, "960 B, 20 ms"),
        ({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1200}, "at 1200 ms"),
        ({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2400}, "at 2400 ms"),
        ({"type": "response.audio_transcript.delta", "delta": "Hello"}, "'Hello'"),
        ({"type": "response.audio_transcript.done", "transcript": "Hi there."}, "'Hi there.'"),
        (
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "transcript": "What is the weather",
            },
            "'What is the weather'",
        ),
        ({"type": "response.text.done", "text": "Sunny"}, "'Sunny'"),
        (
            {"type": "response.created", "response": {"id": "r1", "status": "in_progress"}},
            "r1 in_progress",
        ),
        (
            {"type": "response.done", "response": {"id": "r1", "status": "cancelled"}},
            "r1 cancelled",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "it1", "audio_end_ms": 850},
            "it1 audio_end_ms=850",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            },
            "user 'hi'",
        ),
        ({"type": "response.output_item.added", "response_id": "r1"}, "r1"),
        ({"type": "some.future.event"}, ""),
        ({}, ""),
    ],
)
def test_summaries(event: dict[str, Any], summary: str) -> None:
    assert summarize(event) == summary


def test_long_transcripts_are_clipped_to_one_line() -> None:
    text = summarize({"type": "response.audio_transcript.done", "transcript": "word\nword " * 40})
    assert "\n" not in text and len(text) <= 64 and text.endswith("…'")


@pytest.mark.parametrize(
    ("event_type", "family"),
    [
        ("error", "error"),
        ("session.updated", "session"),
        ("session.update", "session"),
        ("input_audio_buffer.speech_started", "input"),
        ("input_audio_buffer.append", "input"),
        ("conversation.item.input_audio_transcription.completed", "input"),
        ("response.audio.delta", "audio"),
        ("output_audio_buffer.cleared", "audio"),
        ("response.created", "response"),
        ("response.audio_transcript.delta", "response"),
        ("conversation.item.created", "conversation"),
        ("conversation.item.truncate", "conversation"),
        ("rate_limits.updated", "other"),
        ("", "other"),
    ],
)
def test_event_families(event_type: str, family: str) -> None:
    assert event_family(event_type) == family


def test_benign_cancel_error_is_recognised() -> None:
    assert is_benign_cancel_error("Cancellation failed: no active response found")
    assert not is_benign_cancel_error("Invalid voice")
    assert not is_benign_cancel_error(None)


def test_display_copy_elides_audio_but_not_text() -> None:
    event = {
        "type": "response.audio.delta",
        "delta": b64(4800),
        "item_id": "it1",
    }
    assert elide_for_display(event) == {
        "type": "response.audio.delta",
        "delta": "<4800 bytes of audio>",
        "item_id": "it1",
    }
    text = {"type": "response.audio_transcript.delta", "delta": "Hello"}
    assert elide_for_display(text) == text


def test_agent_activity_events_are_summarised() -> None:
    request = {
        "type": "mcp_approval_request",
        "id": "mcpr_1",
        "server_label": "deepwiki",
        "name": "ask_question",
        "arguments": '{"q": 1}',
    }
    assert (
        summarize({"type": "conversation.item.created", "item": request})
        == 'mcp_approval_request mcpr_1 deepwiki.ask_question {"q": 1}'
    )
    answer = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False}
    assert summarize({"type": "conversation.item.create", "item": answer}).endswith("denied")
    call = {"type": "function_call", "id": "fc1", "name": "get_weather", "arguments": ""}
    assert "get_weather" in summarize({"type": "response.output_item.added", "item": call})
    args = {"type": "response.function_call_arguments.done", "arguments": '{"city": "Paris"}'}
    assert summarize(args) == '{"city": "Paris"}'
    word = {"type": "response.audio_timestamp.delta", "text": "Hi", "audio_offset_ms": 120,
            "audio_duration_ms": 300}  # fmt: skip
    assert summarize(word) == "'Hi' at 120 ms for 300 ms"
    limits = [{"name": "tokens", "remaining": 900, "limit": 1000}]
    assert summarize({"type": "rate_limits.updated", "rate_limits": limits}) == "tokens 900/1000"
    warning = {"type": "warning", "warning": {"message": "no word timestamps"}}
    assert summarize(warning) == "no word timestamps"
    step = {"type": "response.invocation.delta", "delta": {"type": "agent.step", "n": 1}}
    assert summarize(step).startswith('agent.step {"type": "agent.step", "n": 1}')


@given(st.binary(max_size=4000))
def test_append_text_is_the_json_the_sdk_makes_of_the_append(block: bytes) -> None:
    audio = base64.b64encode(block).decode("ascii")
    sdk = ClientEventInputAudioBufferAppend(audio=audio).as_dict()
    assert append_text(audio) == json.dumps(sdk) == json.dumps({"audio": audio, "type": APPEND})


async def test_send_text_falls_back_to_the_sdk_send_without_its_aiohttp_socket() -> None:
    # An SDK whose connection no longer keeps an aiohttp socket in ``_connection``: the
    # event goes through its public send, as before.
    class Connection:
        def __init__(self) -> None:
            self.sent: list[object] = []

        async def send(self, event: object) -> None:
            self.sent.append(event)

    conn = Connection()
    await send_text(conn, append_text("AAAA"))  # type: ignore[arg-type]
    assert conn.sent == [{"audio": "AAAA", "type": APPEND}]
