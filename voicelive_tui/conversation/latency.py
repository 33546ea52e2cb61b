"""Where a turn's latency goes: voice-to-voice broken into stages, from our own clocks.

A spoken turn is timed from the end of the user's speech *in the captured audio* to the
first sample of the answer leaving the speaker, in five marks (all ``time.monotonic()``):

1. ``speech_end``: when the microphone captured the last sample of the user's speech.
   ``input_audio_buffer.speech_stopped`` says where in the appended audio speech ended
   (``audio_end_ms``); :class:`CaptureClock` maps that position onto the capture clock.
2. ``speech_stopped``: the event received (the server's end-of-speech wait and the network).
3. ``response_created``: ``response.created`` received.
4. ``first_delta``: the first ``response.audio.delta`` that is not silence received.
5. ``first_sound``: its first sample handed to the device, plus the device's reported
   output latency (a leading delta of silence plays first: its length is added).

The stages are the gaps between consecutive known marks, so they add up to the whole span.
A typed turn is timed from the message sent to the first text or audio received. Pure:
the session feeds marks; views and ``--summary-json`` read them.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

STAGES = ("end-of-speech wait", "response start", "first audio", "playback")
"""The stage names of a spoken turn, between marks 1-2, 2-3, 3-4 and 4-5."""
TYPED_STAGE = "first output"


class CaptureClock:
    """Maps a position in the appended microphone audio onto the capture clock.

    The session calls :meth:`appended` for every chunk it sends: how many ms of audio
    were appended in all, and when the last sample of the chunk was captured. Muting
    stops appends, so positions map through the chunks actually sent.
    """

    def __init__(self, keep: int = 4096) -> None:
        self._ends: deque[float] = deque(maxlen=keep)  # appended ms after each chunk
        self._times: deque[float] = deque(maxlen=keep)  # capture time of its last sample
        self.appended_ms = 0.0

    def appended(self, ms: float, captured_at: float) -> None:
        self.appended_ms += ms
        self._ends.append(self.appended_ms)
        self._times.append(captured_at)

    def time_of(self, audio_ms: float) -> float | None:
        """When the sample at ``audio_ms`` was captured; None if not (or no longer) known."""
        if not self._ends or audio_ms > self._ends[-1] or audio_ms < self._ends[0] - 1000:
            return None
        ends = list(self._ends)
        i = bisect.bisect_left(ends, audio_ms)
        return self._times[i] - (ends[i] - audio_ms) / 1000


@dataclass
class TurnTiming:
    """The marks of one turn (``time.monotonic()``; None until seen)."""

    kind: str = "voice"  # "voice" or "typed"
    speech_end: float | None = None
    speech_stopped: float | None = None
    response_created: float | None = None
    first_delta: float | None = None
    first_sound: float | None = None
    sent: float | None = None  # typed: the message sent
    first_output: float | None = None  # typed: first text or audio received
    item_id: str | None = None
    estimated: bool = False
    """speech_end could not be placed on the capture clock: speech_stopped stands in."""
    silent_lead_ms: float = 0.0
    """Audio of silence the answer started with: its first sound comes after it."""
    playback_at: float | None = None
    """When the answer's first (silent) sample left the speaker, before its first sound
    was received."""
    waits: list[tuple[float, float]] = field(default_factory=list)
    """(start, end) of the spans spent waiting for the user's approval of an MCP call:
    shown apart, and not counted in any stage (the agent was not slow, the user was)."""
    device_switched: bool = False
    """A microphone or speaker was switched (or lost and found) during the turn: its figure
    spans the reopening of a stream."""

    def marks(self) -> list[tuple[str, float | None]]:
        if self.kind == "typed":
            return [("sent", self.sent), (TYPED_STAGE, self.first_output)]
        return [
            ("speech end", self.speech_end),
            (STAGES[0], self.speech_stopped),
            (STAGES[1], self.response_created),
            (STAGES[2], self.first_delta),
            (STAGES[3], self.first_sound),
        ]

    def stages(self) -> list[tuple[str, float]]:
        """(stage, ms) between consecutive known marks, less any approval wait inside
        them; they add up to :attr:`total_ms`."""
        known = [(name, t) for name, t in self.marks() if t is not None]
        out = []
        for (_before, start), (name, end) in zip(known, known[1:], strict=False):
            out.append((name, (end - start - self._waited(start, end)) * 1000))
        return out

    def _waited(self, start: float, end: float) -> float:
        """Seconds of approval waits between ``start`` and ``end``."""
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in self.waits)

    @property
    def approval_wait_ms(self) -> float:
        """Time spent waiting for the user's approvals during this turn."""
        return sum(b - a for a, b in self.waits) * 1000

    def dominant(self) -> tuple[str, float] | None:
        """The stage that took longest, and its ms (None: no stage yet)."""
        stages = self.stages()
        return max(stages, key=lambda s: s[1]) if stages else None

    def explain(self) -> str:
        """The turn's biggest contributor in words: ``end-of-speech wait: 1.40 s of 1.90 s``."""
        top, total = self.dominant(), self.total_ms
        if top is None or total is None:
            return "not answered"
        text = f"{top[0]}: {top[1] / 1000:.2f} s of {total / 1000:.2f} s"
        if self.waits:
            text += f" (and {self.approval_wait_ms / 1000:.2f} s waiting for your approval)"
        return text

    @property
    def complete(self) -> bool:
        return all(t is not None for _name, t in self.marks())

    @property
    def total_ms(self) -> float | None:
        """Voice-to-voice (typed: sent to first output) once the turn is complete."""
        if not self.complete:
            return None
        return sum(ms for _name, ms in self.stages())


PERCENTILES = (50, 90, 95, 99)


def percentile(values: list[float], pct: float) -> float | None:
    """The ``pct`` percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class LatencyLog:
    """Every turn's timing, in order."""

    turns: list[TurnTiming] = field(default_factory=list)

    def totals(self, kind: str = "voice") -> list[float]:
        return [t.total_ms for t in self.turns if t.kind == kind and t.total_ms is not None]

    def stage_values(self, kind: str = "voice") -> dict[str, list[float]]:
        """Each stage's ms over the complete turns of ``kind``, stages in order."""
        names = list(STAGES) if kind == "voice" else [TYPED_STAGE]
        out: dict[str, list[float]] = {name: [] for name in names}
        for t in self.turns:
            if t.kind == kind and t.complete:
                for name, ms in t.stages():
                    out[name].append(ms)
        return out

    def worst(self, kind: str = "voice") -> tuple[int, TurnTiming] | None:
        """The slowest complete turn of ``kind`` and its number (1-based, all kinds)."""
        timed = [(n, t) for n, t in enumerate(self.turns, 1) if t.kind == kind and t.total_ms]
        return max(timed, key=lambda nt: nt[1].total_ms or 0.0) if timed else None

    def summary(self) -> dict[str, object]:
        """What ``--summary-json`` writes: every turn with its stages, and percentiles."""
        out: dict[str, object] = {
            "turns": [
                {
                    "kind": t.kind,
                    "item_id": t.item_id,
                    "total_ms": _round(t.total_ms),
                    "estimated": t.estimated,
                    "stages": {name: _round(ms) for name, ms in t.stages()},
                    "approval_wait_ms": _round(t.approval_wait_ms),
                    "device_switched": t.device_switched,
                }
                for t in self.turns
            ]
        }
        for kind in ("voice", "typed"):
            totals = self.totals(kind)
            summary: dict[str, object] = {"count": len(totals), **spread(totals)}
            summary["stages"] = {
                name: spread(values) for name, values in self.stage_values(kind).items()
            }
            worst = self.worst(kind)
            if worst is not None:
                number, turn = worst
                top = turn.dominant()
                summary["worst"] = {
                    "turn": number,
                    "item_id": turn.item_id,
                    "total_ms": _round(turn.total_ms),
                    "dominant_stage": top[0] if top else None,
                    "dominant_ms": _round(top[1]) if top else None,
                    "explained": turn.explain(),
                }
            else:
                summary["worst"] = None
            out[kind] = summary
        return out


def spread(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p95, p99 and the max of ``values``, in ms (None when empty)."""
    out = {f"p{pct}_ms": _round(percentile(values, pct)) for pct in PERCENTILES}
    out["max_ms"] = _round(max(values)) if values else None
    return out


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)
