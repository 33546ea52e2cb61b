"""The event stream's memory: one entry per line, folding, bounding and filtering.

Pure data, no widgets: the event log widget renders :class:`EventBuffer.view`.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelive_tui.protocol import (
    APPEND,
    AUDIO_DELTA,
    audio_bytes,
    elide_for_display,
    family_of,
    pcm_ms,
    summarize,
)
from voicelive_tui.safe_text import displayable
from voicelive_tui.updates import Direction, EventReceived, EventSent

MAX_ENTRIES = 5_000
AUDIO_FOLDS = frozenset({APPEND, AUDIO_DELTA})
"""Audio event types whose folded line says how much audio it carried."""
FOLDED_TEXT_CELLS = 60
"""How much of the streamed text a folded delta line keeps (its newest part)."""


def shown_type(event: Mapping[str, Any]) -> str:
    """The event's type as its line shows it (the service's text, made displayable),
    interned: thousands of lines share a few dozen types."""
    return sys.intern(displayable(str(event.get("type", "?")), one_line=True))


def is_foldable(event_type: str) -> bool:
    """High-rate types whose consecutive occurrences share one updating line: audio and
    every streaming ``*.delta`` (transcripts, text, function-call arguments)."""
    return event_type in AUDIO_FOLDS or event_type.endswith(".delta")


def compact(event: Mapping[str, Any]) -> str:
    """An event as the shortest JSON text (as the JSON view would convert it)."""
    return json.dumps(event, separators=(",", ":"), default=str, ensure_ascii=False)


@dataclass(slots=True)
class EventEntry:
    """One line of the event stream (possibly several folded audio events)."""

    seq: int
    direction: Direction
    at: float
    type: str
    summary: str
    family: str
    kept: Mapping[str, Any] | str
    """The newest event of the line, audio elided (a line must not hold megabytes): a dict
    while the line may still fold more in, then its JSON text, a third of the memory of
    the dicts and strings (thousands of lines are kept; only Enter on one reads it)."""
    count: int = 1
    audio_ms: float = 0.0
    streamed: str = ""
    """The newest FOLDED_TEXT_CELLS characters of the text deltas folded into the line."""

    @property
    def event(self) -> Mapping[str, Any]:
        """The newest event of the line, audio elided."""
        kept = self.kept
        return json.loads(kept) if isinstance(kept, str) else kept

    def close(self) -> None:
        """No more events fold into this line: keep its event as JSON text."""
        if not isinstance(self.kept, str):
            self.kept = compact(self.kept)

    @property
    def text(self) -> str:
        """The summary as shown: folded lines say how many events, and how much audio or
        the newest of the streamed text (as ``repr`` writes it: control characters escaped,
        in the form :func:`~voicelive_tui.safe_text.displayable` uses)."""
        if self.count == 1:
            return self.summary
        if self.type in AUDIO_FOLDS:
            return f"x{self.count}, {self.audio_ms / 1000:.1f} s"
        return f"x{self.count}, {self.streamed!r}"

    def fold(self, event: Mapping[str, Any]) -> None:
        """Take one more event of this line's type into the line."""
        self.count += 1
        self.kept = elide_for_display(event)
        if self.type in AUDIO_FOLDS:
            self.audio_ms += pcm_ms(audio_bytes(event))
        else:
            self.take_text(event)

    def take_text(self, event: Mapping[str, Any]) -> None:
        """Append a text delta to what the line shows of the stream."""
        delta = event.get("delta")
        if isinstance(delta, str):
            self.streamed = (self.streamed + delta)[-FOLDED_TEXT_CELLS:]

    def matches(self, needle: str) -> bool:
        """Case-insensitive: a type prefix, or text anywhere in the type or summary."""
        if not needle:
            return True
        needle = needle.lower()
        kind = self.type.lower()
        return kind.startswith(needle) or needle in kind or needle in self.summary.lower()


@dataclass
class BatchChange:
    """What a batch of events did to the visible list (so only that is repainted)."""

    appended: int = 0
    """New lines at the end of the view."""
    removed: int = 0
    """Lines dropped from the front of the view (the bound)."""
    folded: list[EventEntry] = field(default_factory=list)
    """Lines already in the view that were updated in place (folded audio)."""

    @property
    def changed(self) -> bool:
        return bool(self.appended or self.removed or self.folded)


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

    def add(self, direction: Direction, event: Mapping[str, Any], at: float) -> EventEntry:
        """Record one event; returns the new line or the folded line it joined."""
        kind = shown_type(event)
        foldable = is_foldable(kind)
        if foldable:
            entry = self._open.get(kind)
            if entry is not None:
                entry.fold(event)
                return entry
        else:
            self._close_open()
        entry = EventEntry(
            seq=next(self._seq),
            direction=direction,
            at=at,
            type=kind,
            summary=summarize(event),
            family=family_of(event),
            kept=elide_for_display(event),
        )
        if foldable:
            if kind in AUDIO_FOLDS:
                entry.audio_ms = pcm_ms(audio_bytes(event))
            else:
                entry.take_text(event)
            self._open[kind] = entry
        else:
            entry.close()
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

    def _close_open(self) -> None:
        for entry in self._open.values():
            entry.close()
        self._open.clear()

    def add_batch(self, updates: Iterable[EventSent | EventReceived]) -> BatchChange:
        """Record sent and received events; says which visible lines changed."""
        last = self.view[-1].seq if self.view else -1
        shown = len(self.view)
        folded: dict[int, EventEntry] = {}
        for update in updates:
            before = self._open.get(shown_type(update.event))
            entry = self.add(update.direction, update.event, update.at)
            if entry is before and entry.seq <= last:
                folded[entry.seq] = entry
        appended = 0
        for entry in reversed(self.view):
            if entry.seq <= last:
                break
            appended += 1
        removed = shown - (len(self.view) - appended)
        first = self.view[0].seq if self.view else last + 1
        # Once per folded line, not per event: a flood folds hundreds into a few lines.
        kept = [e for e in folded.values() if e.seq >= first and e.matches(self.needle)]
        return BatchChange(appended=appended, removed=removed, folded=kept)

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
