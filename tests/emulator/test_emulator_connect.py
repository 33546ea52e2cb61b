"""Connecting to the emulator with the real SDK: auth kinds, agent modes, handshake errors."""

from __future__ import annotations

import aiohttp
import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.ai.voicelive.models import InputTextContentPart, UserMessageItem
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential


class StaticToken(AsyncTokenCredential):
    """An Entra-style credential that always returns the same token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: tuple[str, ...] = ()

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes = scopes
        return AccessToken(self.token, 2_000_000_000)

    async def close(self) -> None:
        pass

    async def __aexit__(self, *args: object) -> None:
        pass


async def test_no_auth_configured_accepts_a_key(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        created = await probe.wait_for("session.created")
    assert created.session.id.startswith("sess_")
    assert created.session.model == "gpt-4o"
    record = emulator.latest
    assert record.auth_kind == "api-key"
    assert record.query["model"] == "gpt-4o"
    assert record.query["api-version"]


async def test_matching_api_key_is_accepted(emulator_factory, voicelive_client):
    emu = await emulator_factory(api_key="s3cret")
    async with voicelive_client(emu, credential=AzureKeyCredential("s3cret")) as probe:
        await probe.wait_for("session.created")
    assert emu.latest.auth_kind == "api-key"
    assert "s3cret" not in repr(emu.latest)


async def test_wrong_api_key_gets_401_before_upgrade(emulator_factory, voicelive_client):
    emu = await emulator_factory(api_key="s3cret")
    with pytest.raises(VoiceLiveConnectionError, match="401"):
        async with voicelive_client(emu, credential=AzureKeyCredential("wrong")):
            pass
    assert emu.connections == []
    assert emu.rejected[-1]["status"] == 401


async def test_missing_credentials_get_401_when_a_key_is_configured(emulator_factory):
    emu = await emulator_factory(api_key="s3cret")
    url = f"{emu.endpoint}/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url)
    assert info.value.status == 401


async def test_bearer_token_is_accepted_and_recorded(emulator_factory, voicelive_client):
    emu = await emulator_factory(api_key="s3cret")
    credential = StaticToken("entra-token")
    async with voicelive_client(emu, credential=credential) as probe:
        await probe.wait_for("session.created")
    assert emu.latest.auth_kind == "bearer"
    assert credential.scopes == ("https://ai.azure.com/.default",)


async def test_configured_token_must_match(emulator_factory, voicelive_client):
    emu = await emulator_factory(token="good-token")
    async with voicelive_client(emu, credential=StaticToken("good-token")) as probe:
        await probe.wait_for("session.created")
    with pytest.raises(VoiceLiveConnectionError, match="401"):
        async with voicelive_client(emu, credential=StaticToken("bad-token")):
            pass


async def test_foundry_agent_mode_carries_agent_and_conversation_id(emulator, voicelive_client):
    async with voicelive_client(
        emulator, model=None, agent_name="tobi", project_name="proj", agent_version="3"
    ) as probe:
        created = await probe.wait_for("session.created")
        agent = created.session.agent
        assert agent.name == "tobi"
        assert agent.agent_id == "tobi:3"
        assert agent.thread_id.startswith("conv_")
        assert "tobi" in created.session.instructions
        await probe.conn.response.create()
        done = await probe.wait_for("response.done")
    assert done.response.conversation_id == agent.thread_id
    assert emulator.latest.agent_mode == "foundry"
    assert emulator.latest.query["agent-project-name"] == "proj"


async def test_agent_conversation_continues_across_connections(emulator, voicelive_client):
    agent = {"model": None, "agent_name": "tobi", "project_name": "proj"}
    async with voicelive_client(emulator, **agent) as probe:
        conv_id = (await probe.wait_for("session.created")).session.agent.thread_id
        await probe.conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text="Remember pineapple.")])
        )
        await probe.wait_for("conversation.item.created")
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    async with voicelive_client(emulator, **agent, conversation_id=conv_id) as probe:
        created = await probe.wait_for("session.created")
        assert created.session.agent.thread_id == conv_id
        await probe.conn.response.create()
        transcript = await probe.wait_for("response.audio_transcript.done")
        done = await probe.wait_for("response.done")
    assert "pineapple" in transcript.transcript
    assert "Welcome back" in transcript.transcript
    assert done.response.conversation_id == conv_id
    roles = [item.role for item in emulator.conversations[conv_id].items]
    assert roles == ["user", "assistant", "assistant"]


async def test_legacy_agent_mode_with_project(emulator, voicelive_client):
    query = {"agent-id": "asst_123", "agent-project-name": "proj", "agent-access-token": "tok"}
    async with voicelive_client(emulator, query=query) as probe:
        created = await probe.wait_for("session.created")
    assert created.session.agent.agent_id == "asst_123"
    record = emulator.latest
    assert record.agent_mode == "legacy"
    assert record.query["agent-access-token"] == "***"


async def test_legacy_agent_mode_with_connection_string(emulator, voicelive_client):
    query = {
        "agent-id": "asst_9",
        "agent-connection-string": "region;sub;rg;proj",
        "agent-access-token": "tok",
    }
    async with voicelive_client(emulator, query=query) as probe:
        created = await probe.wait_for("session.created")
    assert created.session.agent.name == "asst_9"


@pytest.mark.parametrize(
    "query",
    [
        {"agent-name": "tobi"},
        {"agent-id": "asst_1", "agent-access-token": "tok"},
        {"agent-id": "asst_1", "agent-project-name": "proj"},
    ],
    ids=["foundry-without-project", "legacy-without-project", "legacy-without-token"],
)
async def test_agent_mode_without_required_params_gets_400(emulator, voicelive_client, query):
    with pytest.raises(VoiceLiveConnectionError, match="400"):
        async with voicelive_client(emulator, query=query):
            pass
    assert emulator.rejected[-1]["status"] == 400
    assert emulator.connections == []


async def test_missing_api_version_and_plain_http_get_400(emulator):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(f"{emulator.endpoint}/voice-live/realtime?model=gpt-4o")
        assert info.value.status == 400
        async with http.get(f"{emulator.endpoint}/voice-live/realtime?api-version=1") as resp:
            assert resp.status == 400
