"""Small misbehaving Voice Live servers on 127.0.0.1, for what the emulator cannot do.

A raw asyncio TCP server that speaks just enough WebSocket (RFC 6455) to misbehave
precisely: never answer the handshake, close at once, abort mid-stream, send a frame over
the client's 4 MB limit, go silent and never answer pings, or flood the client with
transcript deltas as fast as it reads them (:func:`flood_frames`), or put terminal control
sequences in every text field it sends (:mod:`tests.reliability.hostile`).

``python -m tests.reliability.badserver flood [DELTAS]`` (or ``hostile``) serves one behaviour on a
port of its own and prints its endpoint, for trying the real client against it by hand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.reliability.hostile import CLOSE_REASON, script

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BEHAVIOURS = (
    "hang",
    "drop-handshake",
    "close",
    "abort",
    "big",
    "huge",
    "silent",
    "reject",
    "list",
    "flood",
    "hostile",
)
FLOOD_DELTAS = 100_000
"""How many transcript deltas the "flood" server sends (the issue's probe: about 7,000 a
second for a client that keeps up, as fast as it reads them otherwise)."""
FLOOD_ITEM = "item_flood"


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


def upgrade_response(request: bytes) -> bytes:
    """The 101 answer to a WebSocket upgrade ``request`` (its headers, as read)."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def session_created() -> bytes:
    event = {
        "type": "session.created",
        "event_id": "event_bad1",
        "session": {"id": "sess_bad", "model": "gpt-realtime"},
    }
    return frame(json.dumps(event).encode())


def event_frame(event: dict[str, object]) -> bytes:
    return frame(json.dumps(event).encode())


def flood_delta(n: int) -> str:
    """The ``n``-th delta's text: distinct, so a lost or reordered delta shows."""
    return f"w{n} "


def flood_transcript(deltas: int = FLOOD_DELTAS) -> str:
    """The whole transcript the "flood" server streams (and sends again in its ``done``)."""
    return "".join(flood_delta(n) for n in range(deltas))


def flood_frames(deltas: int = FLOOD_DELTAS) -> Iterator[bytes]:
    """One agent reply streamed as ``deltas`` transcript deltas, then completed."""
    ids = {"response_id": "resp_flood", "item_id": FLOOD_ITEM, "output_index": 0}
    session = {"id": "sess_bad", "model": "gpt-realtime", "voice": {"name": "flood"}}
    yield event_frame({"type": "session.updated", "event_id": "ev_u", "session": session})
    response = {"id": "resp_flood", "object": "realtime.response", "status": "in_progress"}
    yield event_frame({"type": "response.created", "event_id": "ev_c", "response": response})
    item = {"id": FLOOD_ITEM, "type": "message", "role": "assistant", "status": "in_progress"}
    yield event_frame(
        {
            "type": "response.output_item.added",
            "event_id": "ev_a",
            "response_id": "resp_flood",
            "output_index": 0,
            "item": item,
        }
    )
    for n in range(deltas):
        yield event_frame(
            {
                "type": "response.audio_transcript.delta",
                "event_id": f"ev_{n}",
                **ids,
                "content_index": 0,
                "delta": flood_delta(n),
            }
        )
    transcript = flood_transcript(deltas)
    yield event_frame(
        {
            "type": "response.audio_transcript.done",
            "event_id": "ev_d",
            **ids,
            "content_index": 0,
            "transcript": transcript,
        }
    )
    done_item = {**item, "status": "completed"}
    yield event_frame(
        {
            "type": "response.output_item.done",
            "event_id": "ev_o",
            "response_id": "resp_flood",
            "output_index": 0,
            "item": done_item,
        }
    )
    response = {**response, "status": "completed", "output": [done_item]}
    yield event_frame({"type": "response.done", "event_id": "ev_r", "response": response})


@dataclass
class BadServer:
    """``behaviour`` picks the misbehaviour; ``handshakes`` counts upgrade requests."""

    behaviour: str
    port: int = 0
    deltas: int = FLOOD_DELTAS
    flood_done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the "flood" server has written its last frame (the client read it all)."""
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
            writer.write(upgrade_response(request))
            if self.behaviour == "close":
                writer.write(frame(struct.pack("!H", 1000), opcode=0x8))
                await writer.drain()
                writer.close()
                return
            if self.behaviour == "hostile":
                await self._play_hostile(reader, writer)
                return
            writer.write(session_created())
            await writer.drain()
            if self.behaviour == "abort":
                writer.transport.abort()
                return
            if self.behaviour == "list":  # valid JSON, but not an event object
                writer.write(frame(b"[1, 2, 3]"))
                await writer.drain()
            if self.behaviour in ("big", "huge"):
                size = (10 if self.behaviour == "big" else 30) << 20
                writer.write(frame(b'{"type": "x", "pad": "' + b"a" * size + b'"}'))
                await writer.drain()
            if self.behaviour == "flood":
                # Read (and drop) what the client sends, so its writes never block.
                self._tasks.add(asyncio.ensure_future(reader.read(-1)))  # type: ignore[arg-type]
                batch: list[bytes] = []
                for data in flood_frames(self.deltas):
                    batch.append(data)
                    if len(batch) == 64:  # as fast as the client reads
                        writer.write(b"".join(batch))
                        batch.clear()
                        await writer.drain()
                writer.write(b"".join(batch))
                await writer.drain()
                self.flood_done.set()
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

    async def _play_hostile(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The hostile session; the first connection then closes with a hostile reason,
        the next ones stay open. What the client sends is read and dropped."""
        for event in script():
            writer.write(frame(json.dumps(event).encode()))
        if self.connections == 1:
            reason = struct.pack("!H", 1011) + CLOSE_REASON.encode()
            writer.write(frame(reason, opcode=0x8))
        await writer.drain()
        while await reader.read(65536):
            pass


@asynccontextmanager
async def bad_server(behaviour: str, deltas: int = FLOOD_DELTAS) -> AsyncIterator[BadServer]:
    """``async with bad_server("hang") as srv: srv.endpoint``."""
    assert behaviour in BEHAVIOURS, behaviour
    srv = BadServer(behaviour, deltas=deltas)
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


async def serve(behaviour: str, deltas: int) -> None:
    """Serve ``behaviour`` until interrupted, a new connection each time."""
    async with bad_server(behaviour, deltas) as srv:
        print(srv.endpoint, flush=True)
        while True:
            await srv.flood_done.wait()  # (only "flood" sets it) the client read it all
            srv.flood_done.clear()
            print("flood done", flush=True)


if __name__ == "__main__":
    import sys

    name = sys.argv[1] if len(sys.argv) > 1 else "flood"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else FLOOD_DELTAS
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(name, count))
