"""The scripted demo user: speaks a few espeak-ng phrases when there is no microphone.

It talks through :class:`ScriptedMic`, a WAV backend (the ``--input-wav`` path) whose
input can be extended while it runs, so the session sees exactly what a WAV file would
give it. One phrase barges in on the agent, so the dashboard shows an interrupted turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.audio.base import SAMPLE_RATE
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.turns import ConnectionState
from voicelive_tui.session import VoiceLiveSession

log = logging.getLogger(__name__)

GREETING_WAIT_S = 30.0
TURN_WAIT_S = 30.0
PAUSE_S = 1.0
BARGE_IN_AFTER_MS = 1_500

FIRST = "Hello there. What can you do for me?"
SECOND = "Please tell me a long story about the sea and the ships on it."
BARGE_IN = "Sorry, stop. That is enough, thank you."
DONE_NOTICE = (
    "The scripted demo user is done. Press t to type to the agent, or run on a machine "
    "with a microphone to talk."
)
SCRIPT_NOTICE = (
    "No microphone: a scripted user speaks a few phrases (one interrupts the agent). "
    "Press t to type; with a microphone the demo is live."
)


class ScriptedMic(WavBackend):
    """A WAV-input backend with no file: phrases are fed in with :meth:`feed`."""

    def __init__(self, *, block_ms: float = 20.0, speed: float = 1.0) -> None:
        super().__init__(None, None, block_ms=block_ms, speed=speed)

    @property
    def has_input(self) -> bool:
        return True

    def describe(self) -> str:
        return "scripted demo user (no microphone)"


async def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes; True when it became true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(step)
    return True


class ScriptedUser:
    """Waits for the greeting, asks something, then barges in on a long answer."""

    def __init__(
        self,
        mic: ScriptedMic,
        speech: Callable[[str, int], Awaitable[bytes]],
        *,
        reason: str = "",
    ) -> None:
        self.mic = mic
        self.speech = speech
        self.reason = reason
        """Why the sound devices are not used (a forwarded server not reachable), if known."""

    async def _speak(self, text: str) -> None:
        self.mic.feed(await self.speech(text, SAMPLE_RATE))
        await self.mic.input_done.wait()

    async def run(self, session: VoiceLiveSession) -> None:
        """The script; gives up quietly when the session does not behave as expected."""
        conv = session.conversation
        session.notice(f"{self.reason}. {SCRIPT_NOTICE}" if self.reason else SCRIPT_NOTICE)

        def quiet() -> bool:
            return (
                conv.connection == ConnectionState.READY
                and not conv.response_active
                and session.audio.pending_ms() == 0
                and any(t.role == "agent" and t.final for t in conv.turns)
            )

        if not await wait_until(quiet, GREETING_WAIT_S):
            return
        await asyncio.sleep(PAUSE_S)
        await self._speak(FIRST)
        answered = conv.answered_user_turns
        if not await wait_until(
            lambda: conv.answered_user_turns > answered and quiet(), TURN_WAIT_S
        ):
            return
        await asyncio.sleep(PAUSE_S)
        agents_before = _agent_turns(conv)
        await self._speak(SECOND)

        def agent_talking_a_while() -> bool:
            turns = [t for t in conv.turns if t.role == "agent"]
            if len(turns) <= agents_before or not turns[-1].item_id:
                return False
            return session.audio.played_ms(turns[-1].item_id) >= BARGE_IN_AFTER_MS

        if not await wait_until(agent_talking_a_while, TURN_WAIT_S):
            return
        await self._speak(BARGE_IN)
        answered = conv.answered_user_turns
        await wait_until(lambda: conv.answered_user_turns > answered and quiet(), TURN_WAIT_S)
        session.notice(DONE_NOTICE)


def _agent_turns(conv: Conversation) -> int:
    return sum(1 for t in conv.turns if t.role == "agent")
