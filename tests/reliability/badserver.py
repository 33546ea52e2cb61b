"""Small misbehaving Voice Live servers on 127.0.0.1, for what the emulator cannot do.

A raw asyncio TCP server that speaks just enough WebSocket (RFC 6455) to misbehave
precisely: never answer the handshake, close at once, abort mid-stream, send a frame over
the client's 4 MB limit, or go silent and never answer pings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BEHAVIOURS = ("hang", "drop-handshake", "close", "abort", "big", "silent", "reject", "list")


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def session_created() -> bytes:
    event = {
        "type": "session.created",
        "event_id": "event_bad1",
        "session": {"id": "sess_bad", "model": "gpt-realtime"},
    }
    return frame(json.dumps(event).encode())


@dataclass
class BadServer:
    """``behaviour`` picks the misbehaviour; ``handshakes`` counts upgrade requests."""

    behaviour: str
    port: int = 0
    handshakes: int = 0
    connections: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            self.handshakes += 1
            if self.behaviour == "hang":
                await asyncio.Event().wait()
            if self.behaviour == "drop-handshake":
                writer.transport.abort()
                return
            if self.behaviour == "reject":
                body = b'{"error": {"code": "401", "message": "Access denied"}}'
                writer.write(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                writer.close()
                return
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            if self.behaviour == "close":
                writer.write(frame(struct.pack("!H", 1000), opcode=0x8))
                await writer.drain()
                writer.close()
                return
            writer.write(session_created())
            await writer.drain()
            if self.behaviour == "abort":
                writer.transport.abort()
                return
            if self.behaviour == "list":  # valid JSON, but not an event object
                writer.write(frame(b"[1, 2, 3]"))
                await writer.drain()
            if self.behaviour == "big":
                writer.write(frame(b'{"type": "x", "pad": "' + b"a" * (10 << 20) + b'"}'))
                await writer.drain()
            # "silent" (and "big", "list" afterwards): never read, never answer a ping.
            await asyncio.Event().wait()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def bad_server(behaviour: str) -> AsyncIterator[BadServer]:
    """``async with bad_server("hang") as srv: srv.endpoint``."""
    assert behaviour in BEHAVIOURS, behaviour
    srv = BadServer(behaviour)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()
        for writer in srv._writers:
            writer.transport.abort()
        for task in srv._tasks:
            task.cancel()
        await asyncio.gather(*srv._tasks, return_exceptions=True)
        await server.wait_closed()
