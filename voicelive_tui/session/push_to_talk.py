"""Tap to talk: a terminal has no key-up, so one key opens the microphone and the same key
sends the turn; Esc discards it. Pure state, the dialogue does the sending.

While push to talk is on, server VAD is off (``turn_detection: null``) and nothing is
appended while the microphone is closed: no audio leaves the machine between turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MIN_TURN_MS", "TapAction", "TapToTalk"]

MIN_TURN_MS = 100
"""The service refuses to commit less audio than this (``input_audio_buffer_commit_empty``)."""

TapAction = Literal["off", "open", "barge_in_and_open", "send", "too_short"]
"""What a tap does: nothing (push to talk off), open the microphone (interrupting the agent
first when it speaks), send the turn (commit + response.create), or discard a turn too short
to commit."""


@dataclass
class TapToTalk:
    """The microphone's state under push to talk."""

    enabled: bool = False
    open: bool = False
    appended_ms: float = 0.0
    """Audio appended since the microphone opened."""

    def tap(self, *, agent_busy: bool) -> TapAction:
        """The talk key was pressed: what to do, and the new state."""
        if not self.enabled:
            return "off"
        if not self.open:
            self.open, self.appended_ms = True, 0.0
            return "barge_in_and_open" if agent_busy else "open"
        self.open = False
        return "send" if self.appended_ms >= MIN_TURN_MS else "too_short"

    def discard(self) -> bool:
        """Esc: close without sending; True when there was an open turn to clear."""
        was_open, self.open = self.open, False
        return self.enabled and was_open

    def may_append(self) -> bool:
        """Microphone audio may leave the machine now."""
        return not self.enabled or self.open

    def appended(self, ms: float) -> None:
        """``ms`` of audio went out while open."""
        self.appended_ms += ms

    def set_enabled(self, enabled: bool) -> None:
        """Push to talk switched live; switching it off closes the microphone turn."""
        self.enabled = enabled
        if not enabled:
            self.open = False
