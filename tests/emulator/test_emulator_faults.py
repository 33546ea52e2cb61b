"""Each injected fault, as a client sees it through the real SDK."""

from __future__ import annotations

import time

import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.core.credentials import AzureKeyCredential

from voicelive_tui.emulator import Faults, parse_faults


async def test_drop_after_events_cuts_the_socket(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=["drop-after-events=3"])
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_closed()
    assert probe.types() == ["session.created", "response.created", "rate_limits.updated"]
    assert emu.latest.dropped_by_fault


async def test_drop_mid_response_cuts_after_the_first_delta(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=Faults(drop_mid_response=True))
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_for("response.created")
        await probe.wait_closed()
    assert probe.types()[-1].endswith(".delta")
    assert "response.done" not in probe.types()
    assert emu.latest.responses[0]["status"] == "failed"  # never finished


async def test_malformed_frame_breaks_the_sdks_parser(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=["malformed-frame"])
    async with voicelive_client(emu) as probe:
        await probe.wait_closed()
    assert probe.types() == ["session.created"]
    assert isinstance(probe.error, VoiceLiveConnectionError)
    assert "Failed to parse message" in str(probe.error)


async def test_unknown_events_arrive_as_plain_server_events(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=["unknown-events"])
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.wait_for("emulator.unannounced_event")
        await probe.conn.response.create()
        await probe.wait_for("emulator.unannounced_event")
        done = await probe.wait_for("response.done")
    types = probe.types()
    assert types.index("emulator.unannounced_event", 2) < types.index("response.created")
    assert done.response.status == "completed"


async def test_delay_ms_delays_every_event(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=["delay-ms=150"])
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        sent = time.monotonic()
        await probe.conn.session.update(session={"temperature": 0.5})
        await probe.wait_for("session.updated")
        assert time.monotonic() - sent >= 0.15


async def test_reject_auth_refuses_even_the_right_key(emulator_factory, voicelive_client):
    emu = await emulator_factory(api_key="k", faults=["reject-auth"])
    with pytest.raises(VoiceLiveConnectionError, match="401"):
        async with voicelive_client(emu, credential=AzureKeyCredential("k")):
            pass
    assert emu.rejected[-1]["status"] == 401


async def test_flood_streams_many_tiny_audio_deltas(emulator_factory, voicelive_client):
    emu = await emulator_factory(faults=["flood=500"])
    async with voicelive_client(emu) as probe:
        await probe.wait_for("session.created")
        await probe.conn.response.create()
        await probe.wait_for("response.done", timeout=30)
    deltas = [e.delta for e in probe.events if e.type == "response.audio.delta"]
    audio_s = sum(len(d) for d in deltas) / 48000
    assert all(len(d) == 96 for d in deltas[:-1])  # 2 ms of 24 kHz PCM16 each
    assert len(deltas) >= 500 * audio_s - 1


def test_fault_specs_parse_and_reject_nonsense():
    faults = parse_faults(["delay-ms=5", "flood=10", "reject-auth"])
    assert (faults.delay_ms, faults.flood_deltas_per_s, faults.reject_auth) == (5, 10, True)
    assert faults.active == ["delay-ms=5", "reject-auth", "flood=10"]
    for bad in ["nope", "delay-ms", "delay-ms=x", "flood=0", "reject-auth=1"]:
        with pytest.raises(ValueError):
            parse_faults([bad])
