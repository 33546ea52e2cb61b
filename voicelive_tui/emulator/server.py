"""The emulator's aiohttp server: ``/voice-live/realtime``, auth, agent modes, lifecycle.

Auth rules (documented in ``--help`` and the README):

- nothing configured: every request is accepted, with or without credentials;
- ``api_key`` set: an ``api-key`` header (or query parameter) must equal it;
- ``token`` set: an ``Authorization: Bearer`` token must equal it;
- a credential kind that is not configured is accepted with any non-empty value, because
  the emulator cannot validate Entra ID tokens; set ``token`` to lock Bearer down too;
- a request with no credential at all is rejected (401) once anything is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from azure.ai.voicelive import models as m

from .connection import EmulatorSession
from .faults import Faults, parse_faults
from .recognition import Recogniser
from .schedule import DEFAULT_PACING, PACINGS, Pacing
from .state import ConnectionRecord, StoredConversation, default_session, new_id

__all__ = ["ROUTE", "Emulator", "run_emulator"]

ROUTE = "/voice-live/realtime"
SECRET_PARAMS = ("agent-access-token", "api-key")
DEFAULT_MAX_APPEND_BYTES = 2 * 1024 * 1024


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class Emulator:
    """A Voice Live emulator server plus the state tests observe.

    Observable state: :attr:`connections` (one :class:`ConnectionRecord` per accepted
    socket), :attr:`rejected` (handshakes answered with 4xx: status and reason),
    :attr:`conversations` (agent-mode conversations by id, kept across connections).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        token: str | None = None,
        speed: float = 1.0,
        pacing: Pacing = DEFAULT_PACING,
        faults: Faults | Iterable[str] | None = None,
        max_append_bytes: int = DEFAULT_MAX_APPEND_BYTES,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if pacing not in PACINGS:
            raise ValueError(f"pacing must be one of {', '.join(PACINGS)}")
        self.host = host
        self.port = port
        self.speed = speed
        self.pacing = pacing
        self.faults = faults if isinstance(faults, Faults) else parse_faults(faults or ())
        self.max_append_bytes = max_append_bytes
        self.connections: list[ConnectionRecord] = []
        self.rejected: list[dict[str, Any]] = []
        self.conversations: dict[str, StoredConversation] = {}
        self._api_key = api_key
        self._token = token
        self._log = log or (lambda _line: None)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.recogniser = Recogniser()
        """Transcribes the committed turns of every connection (one worker process)."""

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` — what to pass to the SDK's ``connect(endpoint=...)``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def latest(self) -> ConnectionRecord | None:
        """The newest connection's record."""
        return self.connections[-1] if self.connections else None

    async def start(self) -> None:
        """Bind and start serving; :attr:`port` becomes the real port."""
        app = web.Application()
        app.router.add_get(ROUTE, self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every socket (going away) and stop serving."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"emulator shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.recogniser.close()

    # -- handshake ---------------------------------------------------------------------------

    def _auth_kind(self, request: web.Request) -> tuple[str, bool]:
        """(kind of credential presented, whether it is accepted)."""
        key = request.headers.get("api-key") or request.query.get("api-key")
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        configured = self._api_key is not None or self._token is not None
        if key:
            ok = self._api_key is None or hmac.compare_digest(key, self._api_key)
            return "api-key", ok
        if bearer:
            ok = self._token is None or hmac.compare_digest(bearer, self._token)
            return "bearer", ok
        return "none", not configured

    def _reject(self, status: int, code: str, message: str) -> web.Response:
        self.rejected.append({"status": status, "code": code, "message": message})
        self._log(f"rejected connection: HTTP {status} {message}")
        return _json_error(status, code, message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        kind, ok = self._auth_kind(request)
        if self.faults.reject_auth or not ok:
            return self._reject(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint.",
            )
        q = request.query
        if not q.get("api-version"):
            return self._reject(400, "MissingApiVersionParameter", "api-version is required.")
        agent_name, agent_id = q.get("agent-name"), q.get("agent-id")
        project = q.get("agent-project-name")
        mode = "foundry" if agent_name else "legacy" if agent_id else None
        if mode == "foundry" and not project:
            return self._reject(
                400, "BadRequest", "agent-project-name is required when agent-name is set."
            )
        if mode == "legacy":
            if not (project or q.get("agent-connection-string")):
                return self._reject(
                    400,
                    "BadRequest",
                    "agent-project-name or agent-connection-string is required with agent-id.",
                )
            if not q.get("agent-access-token"):
                return self._reject(
                    400, "BadRequest", "agent-access-token is required with agent-id."
                )
        ws = web.WebSocketResponse(max_msg_size=self.max_append_bytes * 2 + 65536)
        if not ws.can_prepare(request).ok:
            return self._reject(400, "BadRequest", "Expected a WebSocket upgrade.")

        conversation, agent = self._conversation_for(mode, q)
        record = ConnectionRecord(
            index=len(self.connections) + 1,
            query={k: ("***" if k in SECRET_PARAMS else v) for k, v in q.items()},
            auth_kind=kind,
            agent_mode=mode,
            conversation=conversation,
        )
        record.session.update(default_session(q.get("model"), agent))
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections.append(record)
        self._log(
            f"connection {record.index}: auth={kind} model={record.session['model']}"
            + (f" agent={agent['name']} conversation={conversation.id}" if agent else "")
        )
        transport = request.transport
        session = EmulatorSession(
            ws,
            record,
            speed=self.speed,
            pacing=self.pacing,
            faults=self.faults,
            max_append_bytes=self.max_append_bytes,
            agent_name=agent["name"] if agent else None,
            recogniser=self.recogniser,
            abort=lambda: transport.abort() if transport is not None else None,
        )
        try:
            await session.run()
        finally:
            self._sockets.discard(ws)
            self._log(f"connection {record.index} closed")
        return ws

    def _conversation_for(
        self, mode: str | None, q: Any
    ) -> tuple[StoredConversation, dict[str, Any] | None]:
        """The conversation (remembered in agent mode) and the session's AgentConfig."""
        if mode is None:
            return StoredConversation(id=new_id("conv")), None
        conv_id = q.get("conversation-id") or new_id("conv")
        conversation = self.conversations.setdefault(conv_id, StoredConversation(id=conv_id))
        name = q.get("agent-name") or q.get("agent-id")
        version = q.get("agent-version") or "1"
        agent = m.AgentConfig(
            name=name or "",
            description=f"Emulated agent in project {q.get('agent-project-name') or '(hub)'}",
            agent_id=q.get("agent-id") or f"{name}:{version}",
            thread_id=conv_id,
        )
        return conversation, agent.as_dict()


@asynccontextmanager
async def run_emulator(**options: Any) -> AsyncIterator[Emulator]:
    """Run an emulator in this event loop: ``async with run_emulator() as emu: emu.endpoint``.

    ``options`` are :class:`Emulator`'s keyword arguments."""
    emulator = Emulator(**options)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
