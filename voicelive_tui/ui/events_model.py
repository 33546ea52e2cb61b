"""The event stream's memory: one entry per line, folding, bounding and filtering.

Pure data, no widgets: the event log widget renders :class:`EventBuffer.view`.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelive_tui.protocol import APPEND, AUDIO_DELTA, audio_bytes, family_of, pcm_ms, summarize

MAX_ENTRIES = 5_000
FOLDABLE = frozenset({APPEND, AUDIO_DELTA})
"""High-rate event types whose consecutive occurrences share one updating line."""


def _keeps_folds_open(event_type: str) -> bool:
    """Streaming deltas do not interrupt a run of audio events; anything else does."""
    return event_type in FOLDABLE or event_type.endswith(".delta")


@dataclass
class EventEntry:
    """One line of the event stream (possibly several folded audio events)."""

    seq: int
    direction: str  # "sent" or "received"
    at: float
    type: str
    summary: str
    family: str
    event: Mapping[str, Any]
    count: int = 1
    audio_ms: float = 0.0

    @property
    def text(self) -> str:
        """The summary as shown: folded lines say how many events and how much audio."""
        if self.count > 1:
            return f"x{self.count}, {self.audio_ms / 1000:.1f} s"
        return self.summary

    def matches(self, needle: str) -> bool:
        """Case-insensitive: a type prefix, or text anywhere in the type or summary."""
        if not needle:
            return True
        needle = needle.lower()
        kind = self.type.lower()
        return kind.startswith(needle) or needle in kind or needle in self.summary.lower()


@dataclass
class EventBuffer:
    """The newest ``max_entries`` lines, the filtered view of them and a dropped count."""

    max_entries: int = MAX_ENTRIES
    entries: deque[EventEntry] = field(default_factory=deque)
    view: deque[EventEntry] = field(default_factory=deque)
    dropped: int = 0
    needle: str = ""
    _open: dict[str, EventEntry] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, direction: str, event: Mapping[str, Any], at: float) -> EventEntry:
        """Record one event; returns the new line or the folded line it joined."""
        kind = str(event.get("type", "?"))
        if kind in FOLDABLE:
            entry = self._open.get(kind)
            if entry is not None:
                entry.count += 1
                entry.audio_ms += pcm_ms(audio_bytes(event))
                entry.event = event
                return entry
        elif not _keeps_folds_open(kind):
            self._open.clear()
        entry = EventEntry(
            seq=next(self._seq),
            direction=direction,
            at=at,
            type=kind,
            summary=summarize(event),
            family=family_of(event),
            event=event,
        )
        if kind in FOLDABLE:
            entry.audio_ms = pcm_ms(audio_bytes(event))
            self._open[kind] = entry
        self.entries.append(entry)
        if entry.matches(self.needle):
            self.view.append(entry)
        while len(self.entries) > self.max_entries:
            gone = self.entries.popleft()
            self.dropped += 1
            if self.view and self.view[0] is gone:
                self.view.popleft()
            if self._open.get(gone.type) is gone:
                del self._open[gone.type]
        return entry

    def set_filter(self, needle: str) -> None:
        """Show only lines matching ``needle`` (empty: everything)."""
        self.needle = needle.strip()
        self.view = deque(e for e in self.entries if e.matches(self.needle))

    def clear(self) -> None:
        """Forget every line (the dropped count too)."""
        self.entries.clear()
        self.view.clear()
        self._open.clear()
        self.dropped = 0
