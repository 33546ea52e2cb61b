"""The emulated session's conversation-item events: create, delete, retrieve, truncate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from azure.ai.voicelive import models as m

from .items import ClientInputError, parse_item, require, wire_item
from .state import ConnectionRecord, StoredItem

__all__ = ["ItemEvents"]

MAX_STREAMED_ITEMS = 8
MAX_STREAMED_CHARS = 32_000


class ItemEvents:
    """``conversation.item.*``: the handlers an :class:`~.connection.EmulatorSession` owns
    for the items of its conversation."""

    def __init__(
        self,
        record: ConnectionRecord,
        *,
        send: Callable[[m.ServerEvent], Awaitable[bool]],
        run_mcp_call: Callable[[StoredItem], None],
    ) -> None:
        self.record = record
        self.session = record.session  # updated in place by session.update
        self.conversation = record.conversation
        self.send = send
        self._run_mcp_call = run_mcp_call

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
        """The client event types these handlers answer."""
        return {
            "conversation.item.create": self._on_item_create,
            "conversation.item.truncate": self._on_truncate,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "input_text.delta": self._on_text_delta,
            "input_text.done": self._on_text_done,
        }

    async def _on_text_delta(self, data: dict[str, Any]) -> None:
        """Typed text streamed into a user item (API 2026-07-15): held until ``done``."""
        item_id = require(data, "id", str)
        delta = require(data, "delta", str)
        streaming = self.record.streaming_text
        if item_id not in streaming and len(streaming) >= MAX_STREAMED_ITEMS:
            raise ClientInputError(
                "too_many_text_streams",
                f"At most {MAX_STREAMED_ITEMS} input_text items may be open at once.",
                "id",
            )
        if len(streaming.get(item_id, "")) + len(delta) > MAX_STREAMED_CHARS:
            raise ClientInputError(
                "input_text_too_long",
                f"input_text is limited to {MAX_STREAMED_CHARS} characters.",
                "delta",
            )
        streaming[item_id] = streaming.get(item_id, "") + delta

    async def _on_text_done(self, data: dict[str, Any]) -> None:
        """The streamed text is complete: it becomes a user message item."""
        item_id = require(data, "id", str)
        if item_id not in self.record.streaming_text:
            raise ClientInputError(
                "invalid_value", f"No input_text.delta was streamed for id '{item_id}'.", "id"
            )
        text = self.record.streaming_text.pop(item_id)
        previous = self.conversation.last_id()
        item = StoredItem(id=item_id, role="user", kind="text", text=text)
        self.conversation.items.append(item)
        await self.send(
            m.ServerEventConversationItemCreated(previous_item_id=previous, item=wire_item(item))
        )

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
