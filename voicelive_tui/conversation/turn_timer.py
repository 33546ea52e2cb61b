"""The reducer's turn timing: marks each spoken or typed turn's latency as events arrive.

Pure, like :mod:`voicelive_tui.conversation.reducer`, which owns one :class:`TurnTimer`; the marks
and stages are described in :mod:`voicelive_tui.conversation.latency`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicelive_tui.conversation.latency import CaptureClock, TurnTiming
from voicelive_tui.protocol import AUDIO_DELTA, audio_bytes, ident, is_silent_delta, pcm_ms

MAX_TIMED_TURNS = 1000
"""Turn timings kept (the oldest are dropped): a long session's memory stays bounded."""


@dataclass
class TurnTimer:
    """Every timed turn, in order, and the one still waiting for its answer."""

    latencies: list[TurnTiming] = field(default_factory=list)
    capture_clock: CaptureClock = field(default_factory=CaptureClock)
    pending: TurnTiming | None = None

    @property
    def last_voice_to_voice_ms(self) -> float | None:
        """The newest voice-to-voice latency, for the status bar."""
        for lat in reversed(self.latencies):
            if lat.kind == "voice" and lat.total_ms is not None:
                return lat.total_ms
        return None

    def start(self, timing: TurnTiming) -> None:
        """A new turn to time (the user stopped speaking, or a message was sent)."""
        self.latencies.append(timing)
        del self.latencies[:-MAX_TIMED_TURNS]
        self.pending = timing

    def speech_stopped(self, end_ms: Any, now: float) -> None:
        """``input_audio_buffer.speech_stopped``: a spoken turn starts at ``end_ms`` in the
        captured audio (at ``now`` when that position is not known)."""
        speech_end = (
            self.capture_clock.time_of(float(end_ms)) if isinstance(end_ms, (int, float)) else None
        )
        self.start(
            TurnTiming(
                speech_end=speech_end if speech_end is not None else now,
                speech_stopped=now,
                estimated=speech_end is None,
            )
        )

    def response_created(self, now: float) -> None:
        lat = self.pending
        if lat is not None and lat.kind == "voice" and lat.response_created is None:
            lat.response_created = now

    def waited(self, start: float, end: float) -> None:
        """The user took from ``start`` to ``end`` to approve a call of the pending turn."""
        if self.pending is not None:
            self.pending.waits.append((start, end))

    def response_done(self, status: str | None) -> None:
        self.pending = None if status == "completed" else self.pending

    def first_output(self, event: dict[str, Any], now: float) -> TurnTiming | None:
        """The first text or audio of the answer to the pending turn; the timing when that
        completes it (a typed turn)."""
        lat = self.pending
        if lat is None:
            return None
        if lat.kind == "typed" and lat.first_output is None:
            lat.first_output = now
            lat.item_id = ident(event.get("item_id"))
            return lat
        elif lat.kind == "voice" and lat.first_delta is None and event.get("type") == AUDIO_DELTA:
            lat.item_id = ident(event.get("item_id"))
            if is_silent_delta(event):
                lat.silent_lead_ms += pcm_ms(audio_bytes(event))
                return None
            lat.first_delta = now
            if lat.playback_at is not None:  # the silence before it is already playing
                lat.first_sound = max(now, lat.playback_at + lat.silent_lead_ms / 1000)
                return lat
        return None

    def device_switched(self, *, playing: bool) -> TurnTiming | None:
        """A device was switched: mark the turn waiting for its answer, else (``playing``:
        an answer is still being heard) the newest turn. The turn marked, if any."""
        lat = self.pending
        if lat is None and playing and self.latencies:
            lat = self.latencies[-1]
        if lat is not None:
            lat.device_switched = True
        return lat

    def playback_started(self, item_id: str, now: float) -> TurnTiming | None:
        """The first sample of ``item_id`` left the device; the timing it completes."""
        for lat in reversed(self.latencies):
            if lat.kind != "voice" or lat.item_id != item_id:
                continue
            if lat.first_delta is None:  # only silence so far: its first sound comes later
                lat.playback_at = now if lat.playback_at is None else lat.playback_at
                return None
            if lat.first_sound is None:
                lat.first_sound = max(now + lat.silent_lead_ms / 1000, lat.first_delta)
                return lat
            return None
        return None
