"""A scripted session with agent activity, for the dashboard's tool snapshots: a typed
question answered through a function call, then an MCP call waiting for approval."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.scaffold.replay import ReplaySession, fixed_clock
from voicelive_tui.config import Settings
from voicelive_tui.logs import RunLogs
from voicelive_tui.runner import Opened
from voicelive_tui.ui.app import VoiceLiveApp


def typed(text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


class ToolReplaySession(ReplaySession):
    approval = True
    """Whether the script goes on to the MCP call that waits for approval."""

    def _call(self, t: float, n: int, item: dict[str, Any]) -> None:
        rid = f"resp_{n:03d}"
        self._at(t, "received", {"type": "response.created", "response": {"id": rid}})
        added = {"type": "response.output_item.added", "response_id": rid, "output_index": 0}
        self._at(t + 0.05, "received", {**added, "item": item})

    def _script(self) -> None:
        voice = {"name": self.settings.voice, "type": "azure-standard"}
        session = {"id": "sess_8Lq2VtoolReplay", "model": "gpt-realtime", "voice": voice}
        self._at(0.08, "received", {"type": "session.created", "session": session})
        self._at(0.15, "received", {"type": "session.updated", "session": session})
        self._at(1.0, "sent", typed("What's the weather in Lisbon?"))
        self._at(1.01, "sent", {"type": "response.create"})
        args = json.dumps({"city": "Lisbon"})
        call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather"}
        self._call(1.2, 2, {**call, "arguments": ""})
        ids = {"response_id": "resp_002", "item_id": "fc_1", "output_index": 0}
        self._at(
            1.3,
            "received",
            {"type": "response.function_call_arguments.done", "arguments": args, **ids},
        )
        done = {"type": "response.done", "response": {"id": "resp_002", "status": "completed"}}
        self._at(1.31, "received", {**done, "response": {**done["response"], "output": [call]}})
        output = {"type": "function_call_output", "call_id": "call_1", "output": '{"sky": "sun"}'}
        self._at(1.65, "sent", {"type": "conversation.item.create", "item": output})
        self._at(1.66, "sent", {"type": "response.create"})
        t = self._reply(1.8, 3, "It is sunny in Lisbon today.")
        if not self.approval:
            return
        self._at(t + 1.0, "sent", typed("Ask deepwiki how retries work."))
        mcp = {
            "type": "mcp_call",
            "id": "mcp_1",
            "server_label": "deepwiki",
            "name": "ask_question",
            "arguments": "",
        }
        self._call(t + 1.2, 4, mcp)
        question = json.dumps({"question": "How do retries work?"})
        self._at(
            t + 1.3,
            "received",
            {
                "type": "response.mcp_call_arguments.done",
                "response_id": "resp_004",
                "item_id": "mcp_1",
                "output_index": 0,
                "arguments": question,
            },
        )
        request = {**mcp, "type": "mcp_approval_request", "id": "mcpr_1", "arguments": question}
        self._at(t + 1.31, "received", {"type": "conversation.item.created", "item": request})
        self._at(
            t + 1.32,
            "received",
            {"type": "response.done", "response": {"id": "resp_004", "status": "completed"}},
        )


def tool_replay_app(log_dir: Path, *, approval: bool = True) -> VoiceLiveApp:
    """The dashboard on the tool script (with or without the MCP call), frozen clock."""
    config = Settings(log_dir=log_dir)

    @contextlib.asynccontextmanager
    async def source(_settings: Settings, logs: RunLogs) -> AsyncIterator[Opened]:
        session = ToolReplaySession(config, logs)
        session.approval = approval
        yield Opened(session)

    return VoiceLiveApp(config, source=source, clock=fixed_clock(), live_meters=False)
