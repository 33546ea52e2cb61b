"""The one thread that calls PortAudio, and the bound on every wait for it.

PortAudio is not thread-safe: two of its calls at once (an abort on one thread, a device
query or a re-initialisation on another) are undefined. And when the sound server dies
under a running stream, a call can block for ever: libpulse deadlocks (its mainloop
thread in ``pa_memimport_free`` waiting for a block, PortAudio's callback thread in
``snd_pcm_status`` waiting for the mainloop's lock), or PortAudio's ALSA callback thread
loops for good on its error path (PortAudio#1037, fixed upstream in 2025, not in Debian's
``libportaudio2`` 19.6), and the abort of the lost stream never returns (both seen in
``benchmarks/server_death.py``, about once in 100 to 150 server deaths here). That abort,
made on the event loop, froze the dashboard past any quit key; made on a thread of its own
while the loop went on, it let the recovery and the device watch call PortAudio beside it,
and the process then hung at exit in ``Pa_Terminate``.

So every PortAudio call of the app runs on :data:`THREAD` (a daemon thread: it never keeps
the process alive), one at a time in the order asked, and nobody waits for one without a
bound. :func:`serialised` wraps the ``sounddevice`` module so that existing code calls it as
before: each function call, each stream method and property goes to the thread and waits
up to ``BLOCKING_S`` (the loop's worst freeze, once); :meth:`PortAudioThread.call` awaits
one without blocking the loop (a re-initialisation, a stop); :meth:`PortAudioThread.submit`
does not wait at all (the lost streams' close). A wait that runs out marks the thread stuck
on the call it is in: every later wait fails at once with :class:`PortAudioStuck` (an
:class:`AudioError`: the fault is shown and the recovery keeps trying) until that call
returns, if ever. At exit PortAudio is terminated on the thread, within ``EXIT_S``, and not
at all while it is stuck (:func:`terminate`).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from .base import AudioError

__all__ = [
    "BLOCKING_S",
    "CALL_S",
    "EXIT_S",
    "THREAD",
    "PortAudioStuck",
    "PortAudioThread",
    "serialised",
    "terminate",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

BLOCKING_S = 3.0
"""The longest a caller blocks on one PortAudio call (on the loop: the dashboard's worst
freeze, once; after that every call fails at once while PortAudio stays stuck). A stream
opens in 10-50 ms here, a few hundred under load or over ``ssh -R``."""
CALL_S = 15.0
"""The longest an awaited call takes (a re-initialisation, which reads every device;
the loop runs meanwhile)."""
EXIT_S = 3.0
"""The longest the process waits at exit for PortAudio to terminate."""


class PortAudioStuck(AudioError):
    """PortAudio did not return from a call (the sound server died under it?)."""


@dataclass(eq=False)
class _Call:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    bound: float
    """Seconds it may run: past them, PortAudio counts as stuck in it."""
    undo: Callable[[Any], None] | None = None
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    started: float = 0.0
    abandoned: bool = False
    """The caller stopped waiting: ``undo`` runs on the result if it ever comes."""
    overdue: bool = False
    """It ran past its bound (and was logged as stuck)."""


POLL_S = 0.05
"""A waiter looks this often whether the call ahead of its own got stuck."""


class PortAudioThread:
    """Runs PortAudio calls one at a time on a daemon thread of its own (started at the
    first call); waits for them with a bound (see the module docstring)."""

    def __init__(self, name: str = "portaudio") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._running: _Call | None = None
        self.calls = 0

    # ------------------------------------------------------------------ state

    @property
    def stuck(self) -> str:
        """'' when PortAudio answers; else the call it has been in for longer than that
        call's bound."""
        call = self._running
        if call is None:
            return ""
        running_for = time.monotonic() - call.started
        if running_for <= call.bound:
            return ""
        if not call.overdue:
            call.overdue = True
            log.error(
                "PortAudio has not returned from %s for %.1f s: the sound server may have "
                "died under it (libpulse deadlocked, or PortAudio#1037's endless loop); "
                "audio stays off until it returns",
                call.name,
                running_for,
            )
        return call.name

    def on_thread(self) -> bool:
        """True on the PortAudio thread itself (a call made there runs at once)."""
        return threading.current_thread() is self._thread

    # ------------------------------------------------------------------ calls

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        bound: float | None = None,
        undo: Callable[[T], None] | None = None,
        name: str = "",
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)`` for the thread; its future (nobody need wait on it).
        Running longer than ``bound`` (``BLOCKING_S``), it makes PortAudio count as stuck
        (in ``name``)."""
        limit = BLOCKING_S if bound is None else bound
        call = _Call(name or _name_of(fn), fn, args, limit, undo)
        if self.on_thread():
            self._execute(call)
        else:
            self._start()
            self._queue.put(call)
        return call.future

    def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        undo: Callable[[T], None] | None = None,
        name: str = "",
    ) -> T:
        """``fn(*args)`` on the thread; blocks up to ``timeout`` (``BLOCKING_S``; less
        when PortAudio is stuck in an earlier call), then PortAudioStuck. ``undo`` runs
        (on the thread) on a result that comes after the caller gave up."""
        if self.on_thread():
            return fn(*args)
        self._refuse_if_stuck()
        timeout = BLOCKING_S if timeout is None else timeout
        future = self.submit(fn, *args, bound=timeout, undo=undo, name=name)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(min(POLL_S, max(0.0, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                if time.monotonic() >= deadline or self.stuck:
                    raise self._gave_up(future, timeout) from None

    async def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float = CALL_S,
        undo: Callable[[T], None] | None = None,
        name: str = "",
    ) -> T:
        """``fn(*args)`` on the thread, awaited (the loop runs meanwhile) up to
        ``timeout`` (less when PortAudio is stuck in an earlier call), then
        PortAudioStuck."""
        self._refuse_if_stuck()
        future = self.submit(fn, *args, bound=timeout, undo=undo, name=name)
        waiting = asyncio.wrap_future(future)
        deadline = time.monotonic() + timeout
        try:
            while not waiting.done():
                await asyncio.wait([waiting], timeout=POLL_S)
                if not waiting.done() and (time.monotonic() >= deadline or self.stuck):
                    waiting.cancel()  # a result that comes later is nobody's
                    raise self._gave_up(future, timeout)
        except asyncio.CancelledError:
            self._abandon(future)
            raise
        return waiting.result()

    # ------------------------------------------------------------------ the thread

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            self._execute(self._queue.get())

    def _execute(self, call: _Call) -> None:
        if not call.future.set_running_or_notify_cancel():
            return  # its caller gave up before it began
        outer = self._running
        call.started = time.monotonic()
        self._running = call
        self.calls += 1
        try:
            result = call.fn(*call.args)
        except BaseException as exc:
            call.future.set_exception(exc)
        else:
            call.future.set_result(result)
            if call.abandoned and call.undo is not None:
                with contextlib.suppress(Exception):
                    call.undo(result)
        finally:
            self._running = outer
            if call.overdue:
                log.warning(
                    "PortAudio returned from %s after %.1f s",
                    call.name,
                    time.monotonic() - call.started,
                )

    def _abandon(self, future: concurrent.futures.Future[Any]) -> None:
        """Stop waiting for ``future``: cancelled if it has not begun, else its result
        is undone when it comes."""
        future.cancel()
        running = self._running
        if running is not None and running.future is future:
            running.abandoned = True

    def _gave_up(self, future: concurrent.futures.Future[Any], timeout: float) -> PortAudioStuck:
        """A wait for ``future`` ran out, or PortAudio got stuck in the call before it."""
        self._abandon(future)
        if self.stuck:
            return self._stuck_error()
        running = self._running
        busy = f" (busy in {running.name})" if running is not None else ""
        return PortAudioStuck(f"PortAudio did not answer within {timeout:g} s{busy}")

    def _refuse_if_stuck(self) -> None:
        if self.stuck:
            raise self._stuck_error()

    def _stuck_error(self) -> PortAudioStuck:
        return PortAudioStuck(
            f"PortAudio is stuck in {self.stuck} (the sound server died under it?): "
            "restart the app to get audio back"
        )


def _name_of(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return str(name)


THREAD = PortAudioThread()
"""The process's PortAudio thread: PortAudio is one per process, and so is this."""


# ---------------------------------------------------------------------------- wrapping


class SerialisedStream:
    """A sounddevice stream whose methods and properties run on the PortAudio thread."""

    def __init__(self, raw: Any, thread: PortAudioThread) -> None:
        self.raw = raw
        self._thread = thread

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(type(self.raw), name, None)
        if isinstance(attribute, property):
            return self._thread.run(getattr, self.raw, name, name=f"stream.{name}")
        value = getattr(self.raw, name)
        if not callable(value) or name.startswith("__"):
            return value
        thread = self._thread

        def on_thread(*args: Any, **kwargs: Any) -> Any:
            return thread.run(lambda: value(*args, **kwargs), name=f"stream.{name}")

        return on_thread


def _close_raw(raw: Any) -> None:
    with contextlib.suppress(Exception):
        raw.abort()
    with contextlib.suppress(Exception):
        raw.close()


class SerialisedModule:
    """The ``sounddevice`` module with every call on the PortAudio thread: functions
    (device queries, settings checks, ``_terminate``/``_initialize``) and the streams
    they make (:class:`SerialisedStream`). Anything else is the module's own."""

    STREAMS = (
        "InputStream", "OutputStream", "Stream", "RawInputStream", "RawOutputStream", "RawStream"
    )  # fmt: skip

    def __init__(self, raw: ModuleType, thread: PortAudioThread) -> None:
        self.raw = raw
        self.thread = thread

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.raw, name)
        thread = self.thread
        if name in self.STREAMS:

            def open_stream(*args: Any, **kwargs: Any) -> SerialisedStream:
                raw = thread.run(lambda: value(*args, **kwargs), undo=_close_raw, name=name)
                return SerialisedStream(raw, thread)

            return open_stream
        if name == "default":
            return _Defaults(value, thread)
        if not callable(value) or isinstance(value, type):
            return value

        def on_thread(*args: Any, **kwargs: Any) -> Any:
            return thread.run(lambda: value(*args, **kwargs), name=name)

        return on_thread


class _Defaults:
    """``sd.default`` with its reads on the PortAudio thread: ``device`` asks PortAudio
    for the default devices (a pair of them becomes a tuple)."""

    def __init__(self, raw: Any, thread: PortAudioThread) -> None:
        self._raw = raw
        self._thread = thread

    def __getattr__(self, name: str) -> Any:
        def read() -> Any:
            value = getattr(self._raw, name)
            return tuple(value) if type(value).__name__ == "_InputOutputPair" else value

        return self._thread.run(read, name=f"default.{name}")


_WRAPPED: dict[ModuleType, SerialisedModule] = {}


def serialised(sd: ModuleType) -> Any:
    """``sd`` (the sounddevice module) with every PortAudio call on :data:`THREAD`, and
    PortAudio terminated there at exit (:func:`terminate`), not by sounddevice's own
    exit handler. A module wrapped already (or a stand-in) is returned as it is."""
    if isinstance(sd, SerialisedModule) or not isinstance(sd, ModuleType):
        return sd
    wrapped = _WRAPPED.get(sd)
    if wrapped is None:
        wrapped = _WRAPPED[sd] = SerialisedModule(sd, THREAD)
        handler = getattr(sd, "_exit_handler", None)
        if handler is not None:
            atexit.unregister(handler)
            atexit.register(terminate)
    return wrapped


def thread_of(sd: Any) -> PortAudioThread | None:
    """The PortAudio thread ``sd`` calls on (None: a stand-in that runs calls in place)."""
    return sd.thread if isinstance(sd, SerialisedModule) else None


async def call(
    sd: Any, fn: Callable[..., T], *args: Any, timeout: float = CALL_S, name: str = ""
) -> T:
    """``fn(*args)`` (calls into ``sd``) on ``sd``'s PortAudio thread, awaited; in place
    for a stand-in module."""
    thread = thread_of(sd)
    if thread is None:
        return fn(*args)
    return await thread.call(fn, *args, timeout=timeout, name=name)


def in_background(sd: Any, fn: Callable[..., Any], *args: Any, name: str = "") -> None:
    """``fn(*args)`` on ``sd``'s PortAudio thread, not waited for (in place for a
    stand-in): it may never return."""
    thread = thread_of(sd)
    if thread is None:
        fn(*args)
    else:
        thread.submit(fn, *args, name=name)


def terminate(timeout: float = EXIT_S) -> bool:
    """Terminate PortAudio on its thread, as sounddevice does at exit, waiting up to
    ``timeout``; False when it could not (stuck already, or it did not return): the
    process must then end without it (:func:`voicelive_tui.cli.exit_process`)."""
    for module, wrapped in list(_WRAPPED.items()):
        handler = getattr(wrapped.raw, "_exit_handler", None)
        if handler is None:
            continue
        if wrapped.thread.stuck:
            log.warning("PortAudio is stuck in %s: not terminated", wrapped.thread.stuck)
            return False
        try:
            wrapped.thread.run(handler, timeout=timeout)
        except PortAudioStuck:
            return False
        except Exception:  # PortAudioError: terminated already, or never initialised
            log.debug("PortAudio did not terminate cleanly", exc_info=True)
        del _WRAPPED[module]
        atexit.unregister(terminate)
    return True
