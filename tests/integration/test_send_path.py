"""The lean send path: a microphone append leaves the socket as the SDK's model would send it.

A loopback WebSocket server keeps every text frame as it arrived; the real SDK connection
sends one block through :meth:`Dialogue.send` with the SDK's model (the old path) and the
same block through :meth:`Dialogue.send_append`; the frames must be the same text, and the
events log must read the same (a run of appends reads as the lines of its appends).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import inspect
import json
import os
import textwrap
import typing
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import WSMsgType, web
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.ai.voicelive.aio import _patch as sdk_patch
from azure.ai.voicelive.models import ClientEventInputAudioBufferAppend
from azure.core.credentials import AzureKeyCredential

from tests.integration.session_helpers import TEST_KEY, make_settings
from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.logs import RunLogs, per_event
from voicelive_tui.protocol import APPEND, append_text
from voicelive_tui.session.dialogue import Dialogue
from voicelive_tui.session.frames import SDK_SEND_ERRORS, SDK_SEND_LOG, send_text
from voicelive_tui.updates import EventSent, Update


class FrameRecorder:
    """A WebSocket endpoint on 127.0.0.1 that keeps every text frame it receives."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.frames.append(msg.data)
                self.arrived.set()
        return ws

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        async def enough() -> None:
            while len(self.frames) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.frames


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[tuple[FrameRecorder, str]]:
    rec = FrameRecorder()
    app = web.Application()
    app.router.add_get("/voice-live/realtime", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    try:
        yield rec, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


BLOCKS = [os.urandom(960), bytes(960), b"\xff\x7f" * 480, os.urandom(2400), os.urandom(7)]
"""20 ms and 50 ms blocks of noise, silence and full scale, and an odd size."""


async def test_an_append_is_the_same_frame_and_log_entry_as_the_sdk_model_made(
    recorder: tuple[FrameRecorder, str], tmp_path: Path
) -> None:
    rec, endpoint = recorder
    updates: list[Update] = []
    with RunLogs(tmp_path, secrets=[TEST_KEY]) as logs:
        dialogue = Dialogue(
            make_settings("--endpoint", endpoint, "--api-key", TEST_KEY),
            audio=NullBackend(),
            logs=logs,
            emit=updates.append,
            quitting=asyncio.Event(),
        )
        async with connect(endpoint=endpoint, credential=AzureKeyCredential(TEST_KEY)) as conn:
            dialogue.conn = conn
            for block in BLOCKS:
                audio = base64.b64encode(block).decode("ascii")
                assert await dialogue.send(ClientEventInputAudioBufferAppend(audio=audio))
                assert await dialogue.send_append(block)
            frames = await rec.wait_for(2 * len(BLOCKS))
        events_path = logs.events.path
    old, new = frames[0::2], frames[1::2]
    assert new == old
    assert [base64.b64decode(json.loads(f)["audio"]) for f in new] == BLOCKS
    lines = [
        e for line in events_path.read_text().splitlines() for e in per_event(json.loads(line))
    ]
    for line in lines:
        del line["time"]
    assert lines[1::2] == lines[0::2]
    assert [u.event for u in updates if isinstance(u, EventSent)][1::2] == [
        json.loads(f) for f in old
    ]
    conv = dialogue.conversation
    assert conv.sent["input_audio_buffer.append"] == 2 * len(BLOCKS)
    assert conv.audio_in_bytes == 2 * sum(map(len, BLOCKS))


async def test_an_append_that_cannot_go_is_not_recorded(tmp_path: Path) -> None:
    with RunLogs(tmp_path) as logs:
        dialogue = Dialogue(
            make_settings(),
            audio=NullBackend(),
            logs=logs,
            emit=lambda update: None,
            quitting=asyncio.Event(),
        )
        assert not await dialogue.send_append(bytes(960))  # not connected
        logs.flush()
        assert logs.events.path.read_text() == ""
        assert dialogue.conversation.sent["input_audio_buffer.append"] == 0


async def test_appends_skip_the_sdk_encoder_and_leave_as_its_json_text(
    recorder: tuple[FrameRecorder, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50 appends a second paid the SDK's send: a dict copy and a new JSONEncoder each.
    rec, endpoint = recorder
    sdk_sends: list[object] = []
    real_send = VoiceLiveConnection.send

    async def counting(self: VoiceLiveConnection, event: object) -> None:
        sdk_sends.append(event)
        await real_send(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(VoiceLiveConnection, "send", counting)
    with RunLogs(tmp_path, secrets=[TEST_KEY]) as logs:
        dialogue = Dialogue(
            make_settings("--endpoint", endpoint, "--api-key", TEST_KEY),
            audio=NullBackend(),
            logs=logs,
            emit=lambda update: None,
            quitting=asyncio.Event(),
        )
        async with connect(endpoint=endpoint, credential=AzureKeyCredential(TEST_KEY)) as conn:
            dialogue.conn = conn
            for block in BLOCKS:
                assert await dialogue.send_append(block)
            frames = await rec.wait_for(len(BLOCKS))
    assert sdk_sends == []
    assert frames == [
        json.dumps({"audio": base64.b64encode(b).decode("ascii"), "type": APPEND}) for b in BLOCKS
    ]


async def test_a_send_that_fails_fails_as_the_sdk_send_does(
    recorder: tuple[FrameRecorder, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, endpoint = recorder
    payload = {"audio": "AAAA", "type": APPEND}
    async with connect(endpoint=endpoint, credential=AzureKeyCredential(TEST_KEY)) as conn:
        await conn._connection.close()  # noqa: SLF001
        failures = []
        for send in (conn.send(payload), send_text(conn, append_text("AAAA"))):
            caplog.clear()
            with pytest.raises(SdkConnectionError) as failed:
                await send
            records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
            failures.append((type(failed.value), str(failed.value), records))
            assert isinstance(failed.value.__cause__, SDK_SEND_ERRORS)
    assert failures[0] == failures[1]
    assert failures[0][2], "the SDK logs a failed send"


def test_the_sdk_send_is_still_what_send_text_reproduces() -> None:
    # send_text goes past the SDK's encoder to its private aiohttp socket: a release of the
    # SDK that sends or handles errors differently must fail here, not in users' hands.
    source = textwrap.dedent(inspect.getsource(VoiceLiveConnection.send))
    tree = ast.parse(source)
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "self._connection.send_str" in calls
    (handler,) = [n for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler)]
    assert ast.unparse(handler.type) == "(TypeError, ValueError, aiohttp.ClientError, RuntimeError)"
    assert [ast.unparse(n) for n in handler.body] == [
        "log.error('Failed to send event: %s', e)",
        "raise ConnectionError(f'Failed to send event: {e}') from e",
    ]
    assert SDK_SEND_ERRORS == (TypeError, ValueError, aiohttp.ClientError, RuntimeError)
    assert sdk_patch.log is SDK_SEND_LOG
    assert sdk_patch.ConnectionError is SdkConnectionError
    hints = typing.get_type_hints(VoiceLiveConnection)
    assert hints["_connection"] is aiohttp.ClientWebSocketResponse
