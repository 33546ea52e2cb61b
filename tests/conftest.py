"""Shared fixtures.

Emulator fixtures: ``emulator_factory`` / ``emulator`` (an in-process Voice Live emulator on
loopback), ``voicelive_client`` (the real SDK connected to it, with an event recorder),
``speech_wav`` / ``speech_turn`` (real espeak-ng speech, padded with silence, with the
speech's position measured from the audio itself), ``spoken`` (any sentence at 140 words/min).
"""

from __future__ import annotations

import os

# One BLAS thread per process, set before numpy is first imported (pytest-xdist workers and
# the app processes tests start inherit it): the workers already keep both cores busy, and
# OpenBLAS's own threads only spin on the emulator's small echo fits (measured: the default
# command took 150 s of CPU with them, 102 s without).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio
import base64
import gc
import shutil
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.core.credentials import AzureKeyCredential

from tests.helpers import HOST_PREFIXES
from voicelive_tui.cli import YOUNG_GC_THRESHOLD
from voicelive_tui.emulator import Emulator, run_emulator

FAST = 20.0
"""Default ``speed`` of test emulators: responses stream 20x faster than real time."""

SPEECH_TEXT = "Hello, what can you do?"


# -- every test ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test runs in its own temporary directory (a ``.env`` in the checkout is never
    read) without the ``AZURE_*`` / ``AGENT_*`` variables of the developer's shell; child
    processes get the same through ``tests.helpers.child_env``."""
    for name in list(os.environ):
        if name.startswith(HOST_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # A theme picked in a test is kept here, never in the developer's own preferences.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


# -- emulator ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def emulator_factory() -> AsyncIterator[Callable[..., Awaitable[Emulator]]]:
    """``await emulator_factory(api_key=..., faults=[...], speed=...)`` starts an emulator
    on 127.0.0.1 with a free port; all are stopped when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**kwargs: Any) -> Emulator:
            kwargs.setdefault("speed", FAST)
            return await stack.enter_async_context(run_emulator(port=0, **kwargs))

        yield start


@pytest_asyncio.fixture
async def emulator(emulator_factory: Callable[..., Awaitable[Emulator]]) -> Emulator:
    """A running emulator with no auth, no faults, speed ``FAST``."""
    return await emulator_factory()


# -- SDK client with an event recorder ------------------------------------------------------


class VoiceLiveProbe:
    """The real SDK connection plus a background reader that records every server event.

    ``await probe.wait_for("response.done")`` returns the next matching event after the
    previous match (events are consumed in order), failing the test on time-out.
    """

    def __init__(self, conn: VoiceLiveConnection) -> None:
        self.conn = conn
        self.events: list[Any] = []
        self.arrived: list[float] = []
        """``time.monotonic()`` when each event was read, as the reader saw it (a test
        that waits on an event may run later than that on a busy machine)."""
        self.error: BaseException | None = None
        self.closed = asyncio.Event()
        self._cursor = 0
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self.conn:
                arrived = time.monotonic()
                async with self._changed:
                    self.events.append(event)
                    self.arrived.append(arrived)
                    self._changed.notify_all()
        except Exception as exc:  # noqa: BLE001 - recorded for the test to assert on
            self.error = exc
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    def types(self) -> list[str]:
        """Types of all events received so far."""
        return [str(e.type) for e in self.events]

    async def wait_for(
        self, etype: str, *, where: Callable[[Any], bool] | None = None, timeout: float = 10.0
    ) -> Any:
        """Next event of ``etype`` (matching ``where``) after the last one waited for."""

        def find() -> Any:
            for i in range(self._cursor, len(self.events)):
                event = self.events[i]
                if event.type == etype and (where is None or where(event)):
                    self._cursor = i + 1
                    return event
            return None

        async def wait() -> Any:
            async with self._changed:
                while (found := find()) is None:
                    if self.closed.is_set():
                        raise AssertionError(f"connection closed before {etype}: {self.types()}")
                    await self._changed.wait()
                return found

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {etype} within {timeout}s; got {self.types()}") from None

    async def wait_closed(self, timeout: float = 10.0) -> None:
        """Wait until the server side ends the connection."""
        await asyncio.wait_for(self.closed.wait(), timeout)

    async def send_audio(self, pcm: bytes, rate: int = 24000, chunk_ms: int = 50) -> None:
        """Append ``pcm`` in ``chunk_ms`` pieces, as a microphone would (not paced)."""
        step = rate * chunk_ms // 1000 * 2
        for pos in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[pos : pos + step]).decode("ascii")
            await self.conn.input_audio_buffer.append(audio=chunk)

    async def aclose(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
def voicelive_client() -> Callable[..., AbstractAsyncContextManager[VoiceLiveProbe]]:
    """``async with voicelive_client(emu, **connect_kwargs) as probe:`` — the real SDK's
    ``connect()`` to the emulator (default credential: an api-key ``test-key``)."""

    @asynccontextmanager
    async def open_client(emu: Emulator, **kwargs: Any) -> AsyncIterator[VoiceLiveProbe]:
        kwargs.setdefault("credential", AzureKeyCredential("test-key"))
        kwargs.setdefault("model", "gpt-4o")
        async with connect(endpoint=emu.endpoint, **kwargs) as conn:
            probe = VoiceLiveProbe(conn)
            try:
                yield probe
            finally:
                await probe.aclose()

    return open_client


# -- real speech -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def espeak_wav(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``espeak_wav(text, words_per_min=None)``: espeak-ng saying ``text`` (at its default
    rate unless given) as a 24 kHz mono 16-bit WAV (cached)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for real speech (apt-get install espeak-ng sox)")
    folder = tmp_path_factory.mktemp("speech")
    made: dict[tuple[str, int | None], Path] = {}

    def make(text: str, words_per_min: int | None = None) -> Path:
        key = (text, words_per_min)
        if key not in made:
            raw, out = folder / f"raw{len(made)}.wav", folder / f"speech{len(made)}.wav"
            rate = ["-v", "en-us", "-s", str(words_per_min)] if words_per_min else []
            subprocess.run(["espeak-ng", *rate, "-w", str(raw), text], check=True)
            subprocess.run(
                ["sox", str(raw), "-r", "24000", "-c", "1", "-b", "16", str(out)], check=True
            )
            made[key] = out
        return made[key]

    return make


@pytest.fixture(scope="session")
def spoken(espeak_wav: Callable[..., Path]) -> Callable[[str], bytes]:
    """``spoken(text)``: espeak-ng's en-us voice saying ``text`` at a natural 140 words/min,
    24 kHz mono PCM16 with 500 ms of silence before and 1 s after."""

    def make(text: str) -> bytes:
        with wave.open(str(espeak_wav(text, 140))) as w:
            return bytes(24000) + w.readframes(w.getnframes()) + bytes(48000)

    return make


@pytest.fixture(scope="session")
def speech_wav(espeak_wav: Callable[[str], Path]) -> Path:
    """espeak-ng saying "Hello, what can you do?" as a 24 kHz mono 16-bit WAV."""
    return espeak_wav(SPEECH_TEXT)


@pytest.fixture(scope="session")
def short_speech_wav(espeak_wav: Callable[[str], Path]) -> Path:
    """espeak-ng saying "Hello there." (a short turn keeps real-time runs short)."""
    return espeak_wav("Hello there.")


@dataclass(frozen=True)
class SpeechTurn:
    """Speech padded with silence, and where the speech is in it (measured by energy)."""

    pcm: bytes
    rate: int
    speech_start_ms: int
    speech_end_ms: int
    speech: bytes
    """The unpadded speech itself."""


def speech_bounds_ms(pcm: bytes, rate: int, level_dbfs: float = -50.0) -> tuple[int, int]:
    """First and last 10 ms frame whose RMS level exceeds ``level_dbfs``, in ms."""
    frame = rate // 100
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    n = len(x) // frame
    levels = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(levels > level_dbfs)[0]
    assert loud.size, "no speech found in the audio"
    return int(loud[0]) * 10, int(loud[-1] + 1) * 10


@pytest.fixture(scope="session")
def speech_turn(
    speech_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., SpeechTurn]:
    """``speech_turn(rate=24000, lead_ms=1000, tail_ms=1500)``: the speech WAV at ``rate``
    (resampled with sox), padded with digital silence."""
    cache: dict[tuple[int, int, int], SpeechTurn] = {}

    def make(rate: int = 24000, lead_ms: int = 1000, tail_ms: int = 1500) -> SpeechTurn:
        key = (rate, lead_ms, tail_ms)
        if key not in cache:
            path = speech_wav
            if rate != 24000:
                path = tmp_path_factory.mktemp("speech") / f"speech{rate}.wav"
                subprocess.run(["sox", str(speech_wav), "-r", str(rate), str(path)], check=True)
            with wave.open(str(path)) as w:
                speech = w.readframes(w.getnframes())
            pcm = bytes(rate * lead_ms // 1000 * 2) + speech + bytes(rate * tail_ms // 1000 * 2)
            start, end = speech_bounds_ms(pcm, rate)
            cache[key] = SpeechTurn(pcm, rate, start, end, speech)
        return cache[key]

    return make


# -- every test, again ----------------------------------------------------------------------


def _quick_key_presses() -> None:
    """A Pilot's key press waits for the app to go idle twice per key (Textual's
    ``wait_for_idle``: until a 20 ms sleep costs the process under 1 ms of CPU, for at most
    1 s). A test process that also runs the emulator, a WAV paced in real time, or a reply
    streaming is never that idle, so every key cost up to 2 s of waiting for nothing (in a
    spoken-turn dashboard test, 2.0 of its 2.5 s; typing a sentence, tens of seconds under
    load). Now each key is followed by one 20 ms sleep, and each ``press`` call, after
    its keys, by the same idle wait bounded at :data:`PRESS_SETTLE_S`, then by a wait for
    every widget to handle its pending messages (``Pilot._wait_for_screen``, as before).
    The idle wait was never a guarantee (under load it ran out at 1 s): a test that needs
    what a key starts to be done waits for it (``wait_for``)."""
    import textual._wait
    import textual.app
    from textual.pilot import Pilot

    idle = textual._wait.wait_for_idle

    async def between_keys(min_sleep: float = textual._wait.SLEEP_GRANULARITY) -> None:
        await idle(min_sleep, max_sleep=0.0)

    textual.app.wait_for_idle = between_keys  # type: ignore[assignment]
    press = Pilot.press

    async def press_and_settle(self: Pilot[Any], *keys: str) -> None:
        await press(self, *keys)
        if keys:
            await idle(0, max_sleep=PRESS_SETTLE_S)
            await self._wait_for_screen()

    Pilot.press = press_and_settle  # type: ignore[method-assign]


PRESS_SETTLE_S = 0.2
_quick_key_presses()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. Most tests wait (on the emulator streaming in real
    time, a WAV paced in real time, a child process, a terminal) more than they compute,
    so two per core overlap the waits; the real-time audio tests still share one worker."""
    return 2 * (os.cpu_count() or 1)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (Textual, the SDK, numpy, every test module) lives as long
    as the worker: frozen out of the garbage collector's scans, which otherwise walk it
    again at every full collection (measured: a quarter of the workers' GC time).

    Young collections run every :data:`~voicelive_tui.cli.YOUNG_GC_THRESHOLD` allocations, as
    in the app's own process: at Python's 700 a dashboard test's short-lived objects
    (messages, strips, segments) were promoted, so full collections of the whole heap came
    every few tests. Measured over the UI tests:
    full collections 93 -> 28, their CPU 4.2-4.8 -> 0.6 s, the workers' CPU 23-24 -> 19 s."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """One full collection, then freeze: pytest's own clean-up collects five times more to
    find unraisable exceptions, and those now walk only what the first one left behind
    (measured: 0.5 s of CPU each in a worker that ran a few hundred tests)."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real-time audio tests share one pytest-xdist worker (one after the other, as they
    share PulseAudio servers and need the CPU on time), and come first: the longest unit of
    work starts at once while the other workers share the rest, instead of ending the run."""
    for item in items:
        if item.get_closest_marker("realaudio"):
            item.add_marker(pytest.mark.xdist_group("audio"))
    items.sort(key=lambda item: item.get_closest_marker("realaudio") is None)
