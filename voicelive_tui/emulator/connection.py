"""One emulated Voice Live session per WebSocket: client events in, server events out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from azure.ai.voicelive import models as m

from .activity import list_tools_item, run_mcp_call
from .audio_events import AudioEvents
from .echo import EchoError, check_echo_settings
from .faults import Faults
from .item_events import ItemEvents
from .items import ClientInputError, wire_item
from .recognition import Recogniser, language_warning
from .responder import ActiveResponse
from .schedule import Pacing
from .state import (
    ConnectionRecord,
    SessionConfigError,
    StoredItem,
    merge_session,
    new_id,
    output_rate,
)
from .tools import check_tool_settings, mcp_servers, mcp_tools_for, session_warnings
from .turn_end import turn_warnings

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
        pacing: Pacing,
        faults: Faults,
        max_append_bytes: int,
        agent_name: str | None,
        recogniser: Recogniser,
        abort: Callable[[], None],
    ) -> None:
        self.ws = ws
        self.record = record
        self.session = record.session
        self.conversation = record.conversation
        self.speed = speed
        self.pacing = pacing
        self.faults = faults
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
        self.audio_events = AudioEvents(
            record,
            max_append_bytes=max_append_bytes,
            send=self.send,
            active_response=lambda: self.active,
            cancel_active=self._cancel_active,
            start_response=self._start_response,
            recogniser=recogniser,
        )
        self.item_events = ItemEvents(record, send=self.send, run_mcp_call=self._run_mcp_call)
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            **self.audio_events.handlers(),
            **self.item_events.handlers(),
        }
        if faults.no_input_text:
            del self._handlers["input_text.delta"], self._handlers["input_text.done"]

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
            if isinstance(event, m.ServerEventResponseAudioDelta):
                loop_time = asyncio.get_running_loop().time()
                self.audio_events.echo.sent(event.delta, output_rate(self.session), loop_time)
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
            transcriptions = self.audio_events.transcripts.tasks()
            for task in [*self._tool_tasks, *transcriptions]:
                task.cancel()
            await asyncio.gather(*self._tool_tasks, *transcriptions, return_exceptions=True)
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
            if isinstance(update, dict):  # before the format check: its code comes first
                check_echo_settings(self.session, update, self.record.appended_audio_bytes > 0)
            merged = merge_session(self.session, update)
            assert isinstance(update, dict)  # merge_session refuses anything else
            check_tool_settings(update)
        except EchoError as exc:
            raise ClientInputError(exc.code, str(exc), exc.param) from None
        except SessionConfigError as exc:
            raise ClientInputError("invalid_session_config", str(exc), exc.param) from None
        self.session.clear()
        self.session.update(merged)
        self.audio_events.audio.reconfigure(self.session)
        self.audio_events.echo.configure(self.session)
        await self.send(m.ServerEventSessionUpdated(session=m.ResponseSession(self.session)))
        warnings = session_warnings(self.session, update) + turn_warnings(self.session, update)
        if "input_audio_transcription" in update and (heard := language_warning(self.session)):
            warnings.append(("transcription_language_unsupported", heard))
        for code, message in warnings:
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

    def _run_mcp_call(self, call: StoredItem) -> None:
        async def pause(ms: float) -> None:
            await asyncio.sleep(ms / 1000 / self.speed)

        task = asyncio.create_task(run_mcp_call(self.send, call, pause))
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

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
            pacing=self.pacing,
            faults=self.faults,
            conversation_id=self.conversation.id if self.record.agent_mode else None,
            agent_name=self.agent_name,
            overrides=overrides,
            on_fault_drop=self.drop,
            heard=self._heard,
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

    async def _heard(self) -> None:
        """Wait until the committed turns are transcribed (a reply refers to what it heard)."""
        if self.audio_events.transcripts.turns:
            await asyncio.gather(*self.audio_events.transcripts.turns, return_exceptions=True)

    async def _cancel_active(self, reason: str) -> None:
        active, task = self.active, self._active_task
        if active is None or task is None:
            return
        self.audio_events.echo.stopped(asyncio.get_running_loop().time())
        active.cancel(reason)
        await asyncio.gather(task, return_exceptions=True)
