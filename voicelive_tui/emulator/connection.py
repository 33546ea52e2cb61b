"""One emulated Voice Live session per WebSocket: client events in, server events out."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from azure.ai.voicelive import models as m

from .activity import list_tools_item, run_mcp_call
from .audio_input import InputAudio
from .faults import Faults
from .items import ClientInputError, parse_item, require, wire_item
from .responder import ActiveResponse
from .state import (
    ConnectionRecord,
    SessionConfigError,
    StoredItem,
    merge_session,
    new_id,
)
from .tools import check_tool_settings, mcp_servers, mcp_tools_for, session_warnings

__all__ = ["EmulatorSession"]

Handler = Callable[[dict[str, Any]], Awaitable[None]]

JUNK_PER_EVENT = 20
JUNK_FRAMES = (
    "[1, 2, 3]",
    "null",
    '"just a string"',
    '{"no": "type"}',
    '{"type": 5}',
    '{"type": "session.updated", "session": {',
    '{"type": "emulator.unknown_event", "note": "junk"}',
)
"""The junk-frames fault's frames: not events, except the last (an unknown event)."""


class EmulatorSession:
    """Runs the protocol for one connection; :meth:`run` returns when the socket closes."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        record: ConnectionRecord,
        *,
        speed: float,
        faults: Faults,
        max_append_bytes: int,
        agent_name: str | None,
        abort: Callable[[], None],
    ) -> None:
        self.ws = ws
        self.record = record
        self.session = record.session
        self.conversation = record.conversation
        self.speed = speed
        self.faults = faults
        self.max_append_bytes = max_append_bytes
        self.agent_name = agent_name
        self._abort_transport = abort
        self._send_lock = asyncio.Lock()
        self._sent_count = 0
        self._dead = False
        self._junk_left = faults.junk_frames or 0
        self._expiry_task: asyncio.Task[None] | None = None
        self.active: ActiveResponse | None = None
        self._active_task: asyncio.Task[None] | None = None
        self._tool_tasks: set[asyncio.Task[None]] = set()
        self.audio = InputAudio(self.session)
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.truncate": self._on_truncate,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "output_audio_buffer.clear": self._on_output_clear,
        }

    # -- sending --------------------------------------------------------------------------

    async def send(self, event: m.ServerEvent) -> bool:
        """Send one server event (applying faults); False once the socket is gone."""
        async with self._send_lock:
            if self._dead:
                return False
            if self._junk_left:
                await self._send_junk()
            if self.faults.delay_ms:
                await asyncio.sleep(self.faults.delay_ms / 1000)
            if event.get("event_id") is None:
                event["event_id"] = new_id("event")
            try:
                await self.ws.send_str(json.dumps(event.as_dict()))
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                self._dead = True
                return False
            self.record.sent.append(str(event.type))
            if event.type == "error":
                self.record.errors_sent.append(dict(event.as_dict()["error"]))
            self._sent_count += 1
            limit = self.faults.drop_after_events
            if limit is not None and self._sent_count >= limit:
                self.drop()
                return False
            return True

    async def _send_junk(self) -> None:
        """Up to JUNK_PER_EVENT frames that are not events, before a real one."""
        for _ in range(min(JUNK_PER_EVENT, self._junk_left)):
            frame = JUNK_FRAMES[self._junk_left % len(JUNK_FRAMES)]
            self._junk_left -= 1
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                self._dead = True
                return
            self.record.counts["junk_sent"] += 1

    def _expire_later(self, ttl_s: int) -> None:
        """Close the socket as the service does when a session's time is up."""

        async def expire() -> None:
            await asyncio.sleep(ttl_s)
            if not self._dead:
                self.record.counts["expired"] += 1
                await self.ws.close(code=1001, message=b"session expired")

        self._expiry_task = asyncio.create_task(expire())

    def drop(self) -> None:
        """Abort the socket without a close frame (a fault, like a network drop)."""
        if not self._dead:
            self._dead = True
            self.record.dropped_by_fault = True
            self._abort_transport()

    async def send_error(self, err: ClientInputError, client_event_id: str | None) -> None:
        """Answer bad input with an ``error`` event."""
        details = m.ServerEventErrorDetails(
            type="invalid_request_error",
            code=err.code,
            message=err.message,
            param=err.param,
            event_id=client_event_id,
        )
        await self.send(m.ServerEventError(error=details))

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet with ``session.created``, then serve client events until the socket closes."""
        try:
            created = dict(self.session)
            if self.faults.session_ttl_s:
                created["expires_at"] = int(time.time()) + self.faults.session_ttl_s
                self._expire_later(self.faults.session_ttl_s)
            await self.send(m.ServerEventSessionCreated(session=m.ResponseSession(created)))
            if self.faults.malformed_frame and not self._dead:
                async with self._send_lock:
                    await self.ws.send_str('{"type": "session.updated", "session": {')
            if self.faults.unknown_events:
                await self.send(
                    m.ServerEvent({"type": "emulator.unannounced_event", "note": "fault"})
                )
            async for msg in self.ws:
                if self._dead:
                    break
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._dispatch(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self.record.counts["invalid"] += 1
                    await self.send_error(
                        ClientInputError(
                            "invalid_frame", "Binary frames are not supported; send JSON text."
                        ),
                        None,
                    )
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self._dead = True
            if self._expiry_task is not None:
                self._expiry_task.cancel()
            if self.active is not None:
                self.active.cancel("client_disconnected")
            if self._active_task is not None:
                await asyncio.gather(self._active_task, return_exceptions=True)
            for task in list(self._tool_tasks):
                task.cancel()
            await asyncio.gather(*self._tool_tasks, return_exceptions=True)
            self.record.closed = True

    async def _dispatch(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.record.counts["invalid"] += 1
            await self.send_error(ClientInputError("invalid_json", f"Invalid JSON: {exc}"), None)
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            self.record.counts["invalid"] += 1
            await self.send_error(
                ClientInputError(
                    "missing_required_parameter", "Missing required parameter: 'type'.", "type"
                ),
                None,
            )
            return
        etype, event_id = data["type"], data.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        self.record.counts[etype] += 1
        summary = {k: v for k, v in data.items() if k not in ("audio", "session", "item")}
        self.record.client_events.append(summary)
        handler = self._handlers.get(etype)
        try:
            if handler is None:
                raise ClientInputError(
                    "unknown_event_type",
                    f"Invalid value: '{etype}'. The emulator does not support this event type.",
                    "type",
                )
            await handler(data)
        except ClientInputError as err:
            await self.send_error(err, event_id)

    # -- session and input audio ------------------------------------------------------------

    async def _on_session_update(self, data: dict[str, Any]) -> None:
        update = data.get("session")
        try:
            merged = merge_session(self.session, update)
            assert isinstance(update, dict)  # merge_session refuses anything else
            check_tool_settings(update)
        except SessionConfigError as exc:
            raise ClientInputError("invalid_session_config", str(exc), exc.param) from None
        self.session.clear()
        self.session.update(merged)
        self.audio.reconfigure(self.session)
        await self.send(m.ServerEventSessionUpdated(session=m.ResponseSession(self.session)))
        for code, message in session_warnings(self.session, update):
            await self.send(
                m.ServerEventWarning(
                    warning=m.ServerEventWarningDetails(message=message, code=code)
                )
            )
        for server in mcp_servers(update.get("tools")):
            await self._list_mcp_tools(server)

    async def _list_mcp_tools(self, server: dict[str, Any]) -> None:
        """Tool discovery of one MCP server: the item, then in_progress, completed or failed
        (tools from the built-in catalogue; no network)."""
        tools = mcp_tools_for(server)
        item = list_tools_item(server, [])
        previous = self.conversation.last_id()
        self.conversation.items.append(item)
        await self.send(
            m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_item(item))
        )
        await self.send(m.ServerEventMcpListToolsInProgress(item_id=item.id))
        if tools is None:
            await self.send(m.ServerEventMcpListToolsFailed(item_id=item.id))
            return
        item.data["tools"] = tools
        await self.send(m.ServerEventMcpListToolsCompleted(item_id=item.id))

    async def _on_append(self, data: dict[str, Any]) -> None:
        encoded = require(data, "audio", str)
        if len(encoded) > self.max_append_bytes * 4 // 3 + 4:
            raise ClientInputError(
                "audio_too_large",
                f"Audio chunk too large: at most {self.max_append_bytes} bytes per append.",
                "audio",
            )
        try:
            pcm = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ClientInputError("invalid_audio", "audio is not valid base64.", "audio") from None
        if len(pcm) > self.max_append_bytes:
            raise ClientInputError(
                "audio_too_large",
                f"Audio chunk too large: at most {self.max_append_bytes} bytes per append.",
                "audio",
            )
        if len(pcm) % 2:
            raise ClientInputError(
                "invalid_audio", "PCM16 audio must have an even number of bytes.", "audio"
            )
        self.record.appended_audio_bytes += len(pcm)
        for vad_event, item_id in self.audio.append(pcm):
            self.record.vad_events.append(vad_event)
            ms = vad_event.ms
            if vad_event.kind == "started":
                await self.send(
                    m.ServerEventInputAudioBufferSpeechStarted(audio_start_ms=ms, item_id=item_id)
                )
                td = self.session.get("turn_detection") or {}
                if self.active is not None and td.get("interrupt_response", True):
                    await self._cancel_active("turn_detected")
            else:
                await self.send(
                    m.ServerEventInputAudioBufferSpeechStopped(audio_end_ms=ms, item_id=item_id)
                )
                segment, rate = self.audio.take_turn(ms)
                await self._commit(segment, rate, item_id)
                td = self.session.get("turn_detection") or {}
                if td.get("create_response", True) and self.active is None:
                    await self._start_response({})

    async def _commit(self, pcm: bytes, rate: int, item_id: str) -> None:
        previous = self.conversation.last_id()
        seconds = len(pcm) / (2 * rate)
        item = StoredItem(
            id=item_id,
            role="user",
            kind="audio",
            audio=pcm,
            rate=rate,
            text=f"[speech, {seconds:.1f} s]",
        )
        self.conversation.items.append(item)
        await self.send(
            m.ServerEventInputAudioBufferCommitted(previous_item_id=previous, item_id=item_id)
        )
        await self.send(
            m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_item(item))
        )
        transcription = self.session.get("input_audio_transcription") or {}
        if transcription and transcription.get("model") != "whisper-1":
            # Streaming transcription models send the words as they come; whisper-1 does not.
            words = item.text.split(" ")
            for i, word in enumerate(words):
                await self.send(
                    m.ServerEventConversationItemInputAudioTranscriptionDelta(
                        item_id=item_id, content_index=0, delta=word if i == 0 else " " + word
                    )
                )
        await self.send(
            m.ServerEventConversationItemInputAudioTranscriptionCompleted(
                item_id=item_id, content_index=0, transcript=item.text
            )
        )

    async def _on_commit(self, data: dict[str, Any]) -> None:
        pcm, rate = self.audio.take_all()
        ms = len(pcm) * 1000 // (2 * rate)
        if ms < 100:
            raise ClientInputError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms"
                f" of audio, but buffer only has {ms}ms of audio.",
            )
        await self._commit(pcm, rate, new_id("item"))

    async def _on_clear(self, data: dict[str, Any]) -> None:
        self.audio.take_all()
        await self.send(m.ServerEventInputAudioBufferCleared())

    # -- conversation items -------------------------------------------------------------

    async def _on_item_create(self, data: dict[str, Any]) -> None:
        item = parse_item(require(data, "item", dict), self.session)
        call: StoredItem | None = None
        if item.kind == "mcp_approval_response":
            call = self._approved_call(item)
        previous = data.get("previous_item_id")
        items = self.conversation.items
        if previous is not None:
            prev = self.conversation.find(previous) if isinstance(previous, str) else None
            if prev is None:
                raise ClientInputError(
                    "invalid_value", f"previous_item_id '{previous}' not found.", "previous_item_id"
                )
            items.insert(items.index(prev) + 1, item)
        else:
            previous = self.conversation.last_id()
            items.append(item)
        await self.send(
            m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_item(item))
        )
        if call is not None and item.data["approve"]:
            self._run_mcp_call(call)

    def _approved_call(self, response: StoredItem) -> StoredItem:
        """The MCP call an ``mcp_approval_response`` answers (a ClientInputError if none
        waits for it)."""
        request_id = response.data["approval_request_id"]
        request = self.conversation.find(request_id)
        answered = any(
            i.kind == "mcp_approval_response" and i.data["approval_request_id"] == request_id
            for i in self.conversation.items
        )
        call = self.conversation.find(request.data["_call_item_id"]) if request else None
        if request is None or request.kind != "mcp_approval_request" or call is None or answered:
            raise ClientInputError(
                "invalid_value",
                f"approval_request_id '{request_id}' is not a pending MCP approval request.",
                "item.approval_request_id",
            )
        return call

    def _run_mcp_call(self, call: StoredItem) -> None:
        async def pause(ms: float) -> None:
            await asyncio.sleep(ms / 1000 / self.speed)

        task = asyncio.create_task(run_mcp_call(self.send, call, pause))
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    def _find(self, data: dict[str, Any]) -> StoredItem:
        item_id = require(data, "item_id", str)
        item = self.conversation.find(item_id)
        if item is None:
            raise ClientInputError(
                "item_not_found", f"Item with id '{item_id}' not found.", "item_id"
            )
        return item

    async def _on_item_delete(self, data: dict[str, Any]) -> None:
        item = self._find(data)
        self.conversation.items.remove(item)
        await self.send(m.ServerEventConversationItemDeleted(item_id=item.id))

    async def _on_item_retrieve(self, data: dict[str, Any]) -> None:
        item = self._find(data)
        await self.send(m.ServerEventConversationItemRetrieved(item=wire_item(item)))

    async def _on_truncate(self, data: dict[str, Any]) -> None:
        content_index = require(data, "content_index", int)
        audio_end_ms = require(data, "audio_end_ms", int)
        item = self._find(data)
        if item.role != "assistant" or item.kind != "audio":
            raise ClientInputError(
                "invalid_value", "Only assistant audio items can be truncated.", "item_id"
            )
        if content_index != 0:
            raise ClientInputError("invalid_value", "content_index must be 0.", "content_index")
        if not 0 <= audio_end_ms <= item.audio_ms:
            raise ClientInputError(
                "invalid_value",
                f"audio_end_ms ({audio_end_ms}) is outside the item's audio"
                f" (0 to {item.audio_ms} ms).",
                "audio_end_ms",
            )
        item.audio = item.audio[: item.rate * audio_end_ms // 1000 * 2]
        words = item.text.split(" ") if item.text else []
        if words and item.token_starts_ms:
            # The words whose speech had started: the service keeps what was heard.
            kept = sum(1 for at in item.token_starts_ms[: len(words)] if at < audio_end_ms)
            item.text = " ".join(words[:kept])
        elif words and item.transcript_ms > 0:
            kept = min(len(words), -(-audio_end_ms * len(words) // item.transcript_ms))
            item.text = " ".join(words[:kept])
        self.record.last_truncate = {
            "item_id": item.id,
            "content_index": content_index,
            "audio_end_ms": audio_end_ms,
        }
        await self.send(
            m.ServerEventConversationItemTruncated(
                item_id=item.id, content_index=content_index, audio_end_ms=audio_end_ms
            )
        )

    async def _on_output_clear(self, data: dict[str, Any]) -> None:
        await self.send(m.ServerEventOutputAudioBufferCleared())

    # -- responses -------------------------------------------------------------------------

    async def _on_response_create(self, data: dict[str, Any]) -> None:
        overrides = data.get("response") or {}
        if not isinstance(overrides, dict):
            raise ClientInputError("invalid_type", "Invalid type for 'response'.", "response")
        modalities = overrides.get("modalities")
        if modalities is not None and not (
            isinstance(modalities, list) and modalities and set(modalities) <= {"text", "audio"}
        ):
            raise ClientInputError(
                "invalid_value",
                "modalities must be a list of 'text' and 'audio'.",
                "response.modalities",
            )
        if self.active is not None:
            raise ClientInputError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}.",
            )
        await self._start_response(overrides)

    async def _on_response_cancel(self, data: dict[str, Any]) -> None:
        wanted = data.get("response_id")
        active = self.active
        if active is None or active.status != "in_progress" or wanted not in (None, active.id):
            raise ClientInputError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        await self._cancel_active("client_cancelled")

    async def _start_response(self, overrides: dict[str, Any]) -> None:
        response = ActiveResponse(
            send=self.send,
            session=self.session,
            conversation=self.conversation,
            speed=self.speed,
            faults=self.faults,
            conversation_id=self.conversation.id if self.record.agent_mode else None,
            agent_name=self.agent_name,
            overrides=overrides,
            on_fault_drop=self.drop,
        )
        entry = {"id": response.id, "status": "in_progress", "reason": None}
        self.record.responses.append(entry)

        def finished(_task: asyncio.Task[None]) -> None:
            entry.update(status=response.status, reason=response.cancel_reason)
            if self.active is response:
                self.active, self._active_task = None, None
            if response.status == "completed" and not self._dead:
                for call in response.mcp_calls_to_run:
                    self._run_mcp_call(call)

        self.active = response
        self._active_task = asyncio.create_task(response.run(), name=f"emulator-{response.id}")
        self._active_task.add_done_callback(finished)

    async def _cancel_active(self, reason: str) -> None:
        active, task = self.active, self._active_task
        if active is None or task is None:
            return
        active.cancel(reason)
        await asyncio.gather(task, return_exceptions=True)
