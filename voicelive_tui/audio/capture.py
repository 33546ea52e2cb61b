"""Loop-side plumbing shared by every backend: the capture queue.

Backends turn microphone audio into PCM16 blocks at :data:`SAMPLE_RATE` on the loop
thread and :meth:`CaptureQueue.push` them; ``backend.capture()`` is
:meth:`CaptureQueue.blocks`. The queue is bounded (the oldest blocks are dropped and
counted when nobody reads), so a session that stops reading never grows memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class CaptureQueue:
    """A bounded queue of PCM16 blocks, read by one ``async for`` at a time."""

    def __init__(self, max_blocks: int = 100) -> None:
        self._blocks: deque[bytes] = deque()
        self._max = max_blocks
        self._event = asyncio.Event()
        self._closed = False
        self.dropped = 0
        """Blocks dropped because nobody read them in time."""

    def push(self, block: bytes) -> None:
        """Queue one block (loop thread)."""
        if self._closed:
            return
        if len(self._blocks) >= self._max:
            self._blocks.popleft()
            self.dropped += 1
        self._blocks.append(block)
        self._event.set()

    def close(self) -> None:
        """End every ``blocks()`` iteration after what is queued."""
        self._closed = True
        self._event.set()

    def reopen(self) -> None:
        """Accept blocks again after close()."""
        self._closed = False

    async def blocks(self) -> AsyncIterator[bytes]:
        """Yield blocks as they arrive; returns when the queue is closed."""
        while True:
            while self._blocks:
                yield self._blocks.popleft()
            if self._closed:
                return
            self._event.clear()
            if self._blocks:
                continue
            await self._event.wait()


@contextlib.asynccontextmanager
async def collected(blocks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The blocks ``blocks`` (a ``backend.capture()``) yields while inside, in a list that
    grows; the reading task is cancelled and awaited on the way out."""
    got: list[bytes] = []

    async def collect() -> None:
        async for block in blocks:
            got.append(block)

    task = asyncio.create_task(collect())
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
