"""A session of the app's own over a speaker that leaks into the microphone: PulseAudio null
sinks with ``module-loopback`` from the speaker's monitor into the microphone sink, the
emulator, the real sound devices. Shared by ``tests/audio/test_echo_client.py`` and
``benchmarks/echo.py`` (self-interruptions per minute of agent speech, per mode).

:func:`converse_over_leak` plays the greeting and spoken turns and counts the agent's
self-interruptions by what happened, not by the app's own detector: a ``speech_started``
whose speech began while the user was silent and the agent still sounding.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests import helpers
from tests.audio.pulse import PulseServer
from voicelive_tui.audio.base import SAMPLE_RATE
from voicelive_tui.audio.engine import SoundDeviceBackend

LOOPBACK_MS = 150


@contextlib.contextmanager
def loopback(pulse: PulseServer, latency_ms: int = LOOPBACK_MS) -> Iterator[None]:
    """The speaker leaks into the microphone, ``latency_ms`` late, while inside."""
    module = pulse.run(
        "pactl",
        "load-module",
        "module-loopback",
        "source=speaker.monitor",
        "sink=mic",
        f"latency_msec={latency_ms}",
    ).stdout.strip()
    try:
        yield
    finally:
        pulse.run("pactl", "unload-module", module)


@dataclass
class LeakRun:
    """What one session over the leak did."""

    self_interruptions: int
    """``speech_started`` while the agent was heard and the user silent: the agent itself."""
    suspected: int
    """What the app's own detector counted (transcripts resembling the agent's words)."""
    user_turns_heard: int
    replies: int
    agent_speech_s: float
    where: list[tuple[int, int, object]] = field(default_factory=list)
    """Each self-interruption: (agent reply number, ms of it heard, audio_start_ms)."""
    user_over_agent: int = 0
    """``speech_started`` while the agent was heard and the user was speaking over it."""
    greeting_cut: bool = False
    """The greeting was interrupted (truncated where the user stopped hearing it)."""


async def converse_over_leak(
    pulse: PulseServer,
    emulator_factory,
    tmp_path: Path,
    speech_wav: Path,
    *,
    reference: str,
    echo_cancellation: bool = True,
    output_latency: float = 0.2,
    turns: int = 2,
    over_greeting_ms: int | None = None,
) -> LeakRun:
    """The greeting and ``turns`` spoken turns through the app's own session, the sound
    devices and the emulator, with the speaker leaking into the microphone; the user
    speaks only once the agent is silent, except over the greeting once ``over_greeting_ms``
    of it was heard (when given)."""
    from voicelive_tui import runner
    from voicelive_tui.config import Settings
    from voicelive_tui.logs import RunLogs
    from voicelive_tui.updates import EventReceived, Update

    emu = await emulator_factory(speed=1.0)
    settings = Settings(
        endpoint=emu.endpoint,
        api_key="test-key",
        echo_reference=reference,  # type: ignore[arg-type]
        echo_cancellation=echo_cancellation,
        log_dir=tmp_path / f"logs-{reference}",
    )
    backend = SoundDeviceBackend(
        "pulse", "pulse", output_latency=output_latency, record=tmp_path / f"{reference}.wav"
    )
    heard_over_agent = 0
    speech_started = 0
    user_over_agent = 0
    where: list[tuple[int, int, object]] = []
    with loopback(pulse), RunLogs(settings.log_dir) as logs:
        async with runner.open_session(settings, logs, audio=backend) as opened:
            session = opened.session

            def watch(update: Update) -> None:
                nonlocal heard_over_agent, speech_started, user_over_agent
                if (
                    isinstance(update, EventReceived)
                    and update.event.get("type") == "input_audio_buffer.speech_started"
                ):
                    speech_started += 1
                    # Whose speech: by when it started (the emulator may report it late
                    # on a busy machine), against when the user was speaking.
                    start_ms = update.event.get("audio_start_ms")
                    when = None
                    if isinstance(start_ms, (int, float)):
                        when = conv.timer.capture_clock.time_of(float(start_ms))
                    when = time.monotonic() if when is None else when
                    user_spoke = any(a <= when <= b for a, b in spoken)
                    if user_spoke and session.audio.pending_ms() > 0:
                        user_over_agent += 1
                    if not user_spoke and session.audio.pending_ms() > 0:
                        heard_over_agent += 1
                        item = session.dialogue.audio_item
                        where.append(
                            (
                                len([t for t in conv.turns if t.role == "agent"]),
                                session.audio.played_ms(item) if item else -1,
                                update.event.get("audio_start_ms"),
                            )
                        )

            spoken: list[list[float]] = []
            """When the user spoke: [start, end + the way to the service and its VAD]."""
            conv = session.conversation
            session.subscribe(watch)
            running = asyncio.create_task(session.run())

            def agent_done(replies: int):
                def done() -> bool:
                    ended = [t for t in conv.turns if t.role == "agent" and t.final]
                    return (
                        len(ended) >= replies
                        and not conv.response_active
                        and session.audio.pending_ms() == 0
                    )

                return done

            async def speak() -> None:
                spoken.append([time.monotonic(), float("inf")])
                player = pulse.popen("paplay", "--device=mic", str(speech_wav))
                await asyncio.to_thread(player.wait, 30)
                spoken[-1][1] = time.monotonic() + 0.5

            def greeting_heard_ms() -> int:
                item = session.dialogue.audio_item
                return session.audio.played_ms(item) if item else 0

            try:
                if over_greeting_ms is not None:
                    await helpers.wait_until(lambda: greeting_heard_ms() >= over_greeting_ms, 60)
                    await speak()
                await helpers.wait_until(agent_done(1), 60)  # the greeting, heard
                for turn in range(turns):
                    await asyncio.sleep(0.5)  # the echo dies away
                    await speak()
                    await helpers.wait_until(agent_done(turn + 2), 60)
            finally:
                session.quit()
                await running
    agent_ms = conv.audio_out_bytes * 1000 / (2 * SAMPLE_RATE)
    return LeakRun(
        self_interruptions=heard_over_agent,
        suspected=conv.echo.suspected,
        user_turns_heard=speech_started - heard_over_agent,
        replies=len([t for t in conv.turns if t.role == "agent"]),
        agent_speech_s=agent_ms / 1000,
        where=where,
        user_over_agent=user_over_agent,
        greeting_cut=next(t.interrupted for t in conv.turns if t.role == "agent"),
    )
