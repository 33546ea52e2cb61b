"""The levels panel: mic and speaker meters with peak hold, the VAD state, 10 s sparklines.

Audio threads only write ``backend.levels`` (a preallocated numpy array); the dashboard
reads it at most 20 times a second and hands each reading to :meth:`LevelsPanel.sample`.
Every widget here compares the cells it would draw with the ones on screen and repaints
only when they differ, so a steady level costs nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from voicelive_tui.audio.base import MIC_PEAK, MIC_RMS, SILENCE_DB, SPEAKER_PEAK, SPEAKER_RMS
from voicelive_tui.ui.view import VAD_LOOKS, VadView

FLOOR_DB = -60.0
"""Meters show -60..0 dBFS; anything quieter is an empty bar."""
FPS = 20
HISTORY_S = 10
HOLD_S = 1.5
FALL_DB_PER_S = 20.0
STILL_PERIOD_S = 0.5
"""Reduced motion: the levels as numbers, redrawn at most twice a second."""
BARS = "▁▂▃▄▅▆▇█"
LABEL_CELLS = 8
"""'Mic', 'Speaker' and their padding before the reading."""


def level_fraction(db: float) -> float:
    """0.0 at or below FLOOR_DB, 1.0 at 0 dBFS."""
    return float(min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB)))


class PeakHold:
    """Holds the highest peak for HOLD_S seconds, then lets it fall at FALL_DB_PER_S."""

    def __init__(self) -> None:
        self.value = SILENCE_DB
        self._since = 0.0

    def update(self, peak_db: float, now: float) -> float:
        if peak_db >= self.value:
            self.value, self._since = peak_db, now
        elif now - self._since > HOLD_S:
            fallen = self.value - FALL_DB_PER_S * (now - self._since - HOLD_S)
            self.value = max(peak_db, fallen)
            if self.value == peak_db:
                self._since = now
        return self.value


def bar_cells(width: int, reading: str) -> int:
    """The cells of a meter's bar, after its label and reading (at least 4)."""
    return max(4, width - LABEL_CELLS - len(reading) - 1)


def meter_cells(rms_db: float, held_db: float, width: int) -> tuple[str, int, int]:
    """What a meter draws at ``width`` cells: the reading, the filled cells, the peak cell."""
    reading = "   –   " if rms_db <= FLOOR_DB else f"{rms_db:5.0f} dB"
    bar = bar_cells(width, reading)
    filled = int(round(level_fraction(rms_db) * bar))
    peak = int(round(level_fraction(held_db) * bar)) - 1 if held_db > FLOOR_DB else -1
    return reading, filled, peak


def still_reading(rms_db: float, held_db: float) -> str:
    """'-23 dB, peak -12 dB': a meter without a bar, for reduced motion."""
    if rms_db <= FLOOR_DB and held_db <= FLOOR_DB:
        return "silent"
    level = "silent" if rms_db <= FLOOR_DB else f"{rms_db:.0f} dB"
    return f"{level}, peak {held_db:.0f} dB" if held_db > FLOOR_DB else level


def changed_cells(old: tuple[str, int, int], new: tuple[str, int, int]) -> tuple[int, int] | None:
    """The first and end cell of a meter line that differ between two drawings."""
    spans: list[tuple[int, int]] = []
    if old[0] != new[0]:
        spans.append((LABEL_CELLS, LABEL_CELLS + max(len(old[0]), len(new[0]))))
    head = LABEL_CELLS + len(new[0]) + 1
    if old[1] != new[1]:
        spans.append((head + min(old[1], new[1]), head + max(old[1], new[1])))
    if old[2] != new[2]:
        for peak in (old[2], new[2]):
            if peak >= 0:
                spans.append((head + peak, head + peak + 1))
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


class LevelBar(Widget):
    """'Mic  -23 dBFS ████████░░░░│░░' with the held peak as a bar."""

    COMPONENT_CLASSES = {
        "level-meter--bar",
        "level-meter--hot",
        "level-meter--empty",
        "level-meter--peak",
    }

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.rms_db = SILENCE_DB
        self.held_db = SILENCE_DB
        self.still = False
        """Reduced motion: numbers only (the level and its peak), no bar."""
        self._drawn: tuple[str, int, int] | None = None
        self._drawn_width = 0
        self._styles: dict[str, Style] = {}

    def set_level(self, rms_db: float, held_db: float) -> None:
        """Take a reading; repaint only the cells that change."""
        if self.still:
            if still_reading(rms_db, held_db) != still_reading(self.rms_db, self.held_db):
                self.rms_db, self.held_db = rms_db, held_db
                self.refresh()
            return
        self.rms_db, self.held_db = rms_db, held_db
        old = self._drawn
        # At the width last drawn (a resize repaints the whole meter anyway): asking
        # Textual for the content size costs more than the rest of a steady reading.
        new = meter_cells(rms_db, held_db, self._drawn_width)
        if old is None or len(old[0]) != len(new[0]):
            self.refresh()
            return
        span = changed_cells(old, new)
        if span is not None:
            self._drawn = new
            self.refresh(Region(span[0], 0, span[1] - span[0], 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()  # the theme or a class changed the colours

    def _style(self, component: str) -> Style:
        """The widget's style with ``component``'s on top, as a rendered Text had it."""
        style = self._styles.get(component)
        if style is None:
            base = self.rich_style
            style = base if not component else base + self.get_component_rich_style(component)
            self._styles[component] = style
        return style

    def render_line(self, y: int) -> Strip:
        """The one line, as a few runs of equal cells (a meter changes 20 times a second:
        no Text to build, parse and wrap each time)."""
        width = self.content_size.width
        if self.still:
            line = f"{self.label:<{LABEL_CELLS}}{still_reading(self.rms_db, self.held_db)}"
            return Strip([Segment(line, self._style(""))]).crop_extend(0, width, None)
        self._drawn = reading, filled, peak = meter_cells(self.rms_db, self.held_db, width)
        self._drawn_width = width
        head = f"{self.label:<{LABEL_CELLS}}{reading} "
        bar = bar_cells(width, reading)
        hot_from = int(bar * level_fraction(-6.0))
        segments = [Segment(head, self._style(""))]
        for char, component, cells in bar_runs(bar, filled, peak, hot_from):
            segments.append(Segment(char * cells, self._style(component)))
        return Strip(segments).crop_extend(0, width, None)


def bar_runs(bar: int, filled: int, peak: int, hot_from: int) -> list[tuple[str, str, int]]:
    """A meter's bar as runs of (character, component class, cells): the filled cells
    (hot from ``hot_from``), the empty ones, and the held peak's cell over either."""

    def cell(i: int) -> tuple[str, str]:
        if i == peak:
            return "│", "level-meter--peak"
        if i < filled:
            return "█", "level-meter--hot" if i >= hot_from else "level-meter--bar"
        return "░", "level-meter--empty"

    edges = sorted({0, bar, *(e for e in (filled, hot_from, peak, peak + 1) if 0 < e < bar)})
    runs: list[tuple[str, str, int]] = []
    for start, end in zip(edges, edges[1:], strict=False):
        char, component = cell(start)
        if runs and runs[-1][:2] == (char, component):
            runs[-1] = (char, component, runs[-1][2] + end - start)
        else:
            runs.append((char, component, end - start))
    return runs


def sparkline_columns(
    history: Sequence[float], total: int, width: int, height: int
) -> tuple[int, ...]:
    """Each column's height in eighths of a cell: the loudest reading of its time slice.

    ``history`` holds the newest readings of ``total`` ever taken. Slices are aligned on
    the reading count, not on the window, so a new reading changes only the newest column
    until a slice fills, and then the chart moves one whole column.
    """
    return tuple(eighths(peak, height) for peak in column_peaks(history, total, width))


def eighths(peak: float, height: int) -> int:
    """A column's height in eighths of a cell for its loudest reading (0.0 to 1.0)."""
    return int(round(peak * height * 8))


def column_peaks(history: Sequence[float], total: int, width: int) -> list[float]:
    """The loudest reading of each column's time slice (see :func:`sparkline_columns`)."""
    return [column_peak(history, total, width, column) for column in range(width)]


def column_peak(history: Sequence[float], total: int, width: int, column: int) -> float:
    """The loudest reading of one column's time slice: 0.0 where it holds none."""
    size = len(history)
    step = max(1, round(size / width))
    newest = (total - 1) // step if total else 0
    bucket = newest - (width - 1 - column)
    oldest_kept = total - size
    start = max(bucket * step - oldest_kept, 0)
    end = min((bucket + 1) * step - oldest_kept, size)
    return max(history[start:end]) if bucket >= 0 and end > start else 0.0


def advance_peaks(peaks: list[float], history: Sequence[float], total: int) -> list[float]:
    """:func:`column_peaks` after one reading more (``history[-1]``, reading ``total``),
    from the peaks before it: only the newest column and the oldest ones, whose slices
    lost a reading off the window's start, are counted again (20 times a second, the whole
    chart cost ~60 us a sparkline; this a few)."""
    width = len(peaks)
    size = len(history)
    step = max(1, round(size / width))
    if (total - 1) // step != (total - 2) // step:
        peaks = [*peaks[1:], 0.0]  # a new slice: the chart moves one column
    else:
        peaks = list(peaks)
    peaks[-1] = column_peak(history, total, width, width - 1)
    newest = (total - 1) // step
    oldest_kept = total - size
    for column in range(width - 1):
        if (newest - (width - 1 - column)) * step >= oldest_kept:
            break  # this slice and every newer one are whole
        peaks[column] = column_peak(history, total, width, column)
    return peaks


class LevelSparkline(Widget):
    """The last seconds of a level on a fixed -60..0 dBFS scale, one column per time slice."""

    COMPONENT_CLASSES = {"sparkline--min-color", "sparkline--max-color"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._history: Sequence[float] = ()
        self._total = 0
        self._drawn: tuple[int, ...] = ()
        self._drawn_size = (0, 0)  # the (width, height) _drawn was computed for
        self._peaks: list[float] = []  # each column's loudest reading, for _drawn
        self._styles: dict[tuple[int, int], Style] = {}

    def set_history(self, history: Sequence[float], total: int) -> None:
        """Show ``history`` (the newest of ``total`` readings); repaint only changed columns."""
        advancing = total == self._total + 1 and len(history) == len(self._history) > 0
        self._history, self._total = list(history), total
        old = self._drawn
        size = self._drawn_size
        width, height = self.content_size.width, max(1, self.content_size.height)
        if advancing and size == (width, height) and len(self._peaks) == width > 0:
            self._peaks = advance_peaks(self._peaks, self._history, total)
            self._drawn = new = tuple(eighths(peak, height) for peak in self._peaks)
        else:
            new = self._columns()
        if self._drawn_size != size:
            self.refresh()
            return
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if changed:
            self.refresh(Region(changed[0], 0, changed[-1] + 1 - changed[0], height))

    def _columns(self) -> tuple[int, ...]:
        """Each column's height in eighths at the current size (kept for render_line)."""
        size = width, height = self.content_size.width, max(1, self.content_size.height)
        self._peaks = column_peaks(self._history, self._total, max(0, width))
        self._drawn = tuple(eighths(peak, height) for peak in self._peaks)
        self._drawn_size = size
        return self._drawn

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()  # the theme changed the colours

    def _style(self, value: int, height: int) -> Style:
        """A column's colour: from the low colour at silence to the high one at 0 dBFS."""
        key = (value, height)
        style = self._styles.get(key)
        if style is None:
            low = self.get_component_styles("sparkline--min-color").color
            high = self.get_component_styles("sparkline--max-color").color
            colour = low.blend(high, value / (height * 8)).rich_color
            style = self._styles[key] = self.rich_style + Style(color=colour)
        return style

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the chart, as runs of equal columns (silence is one run)."""
        width, height = self.content_size.width, max(1, self.content_size.height)
        columns = self._drawn if self._drawn_size == (width, height) else self._columns()
        if width <= 0:
            return Strip([])
        row = height - 1 - y
        segments: list[Segment] = []
        run = ""
        run_value = -1
        for value in columns:
            eighths = value - row * 8
            if eighths <= 0:
                eighths = 1 if row == 0 else 0  # a baseline, so silence is visible
            char = BARS[min(7, eighths - 1)] if eighths > 0 else " "
            if value != run_value and run:
                segments.append(Segment(run, self._style(run_value, height)))
                run = ""
            run += char
            run_value = value
        segments.append(Segment(run, self._style(run_value, height)))
        return Strip(segments, width)


class VadIndicator(Widget):
    """listening / you are speaking / thinking / agent speaking / muted."""

    vad: reactive[VadView] = reactive(VadView)

    def watch_vad(self, vad: VadView) -> None:
        for name in VAD_LOOKS:
            self.set_class(name == vad.state, f"-{name}")

    def render(self) -> RenderResult:
        return f"● {self.vad.label}"


class LevelsPanel(Vertical):
    """Meters, VAD state and sparklines, fed one levels reading at a time."""

    vad: reactive[VadView] = reactive(VadView)
    """Pushed down to the VadIndicator (data_bind)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        size = FPS * HISTORY_S
        self.mic_history: deque[float] = deque([0.0] * size, maxlen=size)
        self.speaker_history: deque[float] = deque([0.0] * size, maxlen=size)
        self._holds = (PeakHold(), PeakHold())
        self._last: tuple[float, ...] | None = None
        self._still = 0
        self._flat = size
        """How many of the newest readings in the histories are equal as drawn (all of
        them: the charts are flat, and one more like them changes nothing on screen)."""
        self._total = 0  # readings taken
        self.still = False
        """Reduced motion (--no-motion, TEXTUAL_ANIMATIONS=none): numbers, no sparklines."""
        self._shown_at = float("-inf")  # when the still numbers were last redrawn

    def compose(self) -> ComposeResult:
        yield VadIndicator(id="vad").data_bind(LevelsPanel.vad)
        self.mic_bar = LevelBar("Mic", id="mic-meter")
        self.mic_sparkline = LevelSparkline(id="mic-history")
        self.speaker_bar = LevelBar("Speaker", id="speaker-meter")
        self.speaker_sparkline = LevelSparkline(id="speaker-history")
        yield self.mic_bar
        yield self.mic_sparkline
        yield self.speaker_bar
        yield self.speaker_sparkline

    def on_mount(self) -> None:
        self.border_title = "Audio"

    def hold_still(self) -> None:
        """Reduced motion: the meters become numbers and the sparklines go."""
        self.still = True
        for bar in (self.mic_bar, self.speaker_bar):
            bar.still = True
            bar.refresh()
        self.mic_sparkline.display = False
        self.speaker_sparkline.display = False

    def sample(self, levels: np.ndarray, now: float) -> None:
        """Take one reading; repaint only when the picture can have changed."""
        reading = tuple(float(x) for x in levels[:4])
        self._still = self._still + 1 if reading == self._last else 0
        self._last = reading
        mic_held = self._holds[0].update(reading[MIC_PEAK], now)
        speaker_held = self._holds[1].update(reading[SPEAKER_PEAK], now)
        if self.still:
            if now - self._shown_at < STILL_PERIOD_S:
                return
            self._shown_at = now
            self.mic_bar.set_level(reading[MIC_RMS], mic_held)
            self.speaker_bar.set_level(reading[SPEAKER_RMS], speaker_held)
            return
        self.mic_bar.set_level(reading[MIC_RMS], mic_held)
        self.speaker_bar.set_level(reading[SPEAKER_RMS], speaker_held)
        if self._still > len(self.mic_history):
            return  # the sparklines already show nothing but this value
        mic, speaker = level_fraction(reading[MIC_RMS]), level_fraction(reading[SPEAKER_RMS])
        flat = mic == self.mic_history[-1] and speaker == self.speaker_history[-1]
        self._flat = self._flat + 1 if flat else 1
        self.mic_history.append(mic)
        self.speaker_history.append(speaker)
        self._total += 1
        if flat and self._flat > len(self.mic_history):
            # Flat charts stay as drawn (a silence, a microphone's noise below the
            # floor): their columns are counted again at the next reading that differs.
            return
        self.mic_sparkline.set_history(self.mic_history, self._total)
        self.speaker_sparkline.set_history(self.speaker_history, self._total)
