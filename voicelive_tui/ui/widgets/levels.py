"""The levels panel: mic and speaker meters with peak hold, the VAD state, 10 s sparklines.

Audio threads only write ``backend.levels`` (a preallocated numpy array); this panel reads
it on a timer at most 20 times a second and repaints only when something moved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Sparkline, Static

from voicelive_tui.audio.base import MIC_PEAK, MIC_RMS, SILENCE_DB, SPEAKER_PEAK, SPEAKER_RMS

FLOOR_DB = -60.0
"""Meters show -60..0 dBFS; anything quieter is an empty bar."""
FPS = 20
HISTORY_S = 10
HOLD_S = 1.5
FALL_DB_PER_S = 20.0
BARS = "▁▂▃▄▅▆▇█"


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


class LevelMeter(Static):
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

    def set_level(self, rms_db: float, held_db: float) -> None:
        if (rms_db, held_db) != (self.rms_db, self.held_db):
            self.rms_db, self.held_db = rms_db, held_db
            self.refresh()

    def render(self) -> RenderResult:
        reading = "   –   " if self.rms_db <= FLOOR_DB else f"{self.rms_db:5.0f} dB"
        head = f"{self.label:<8}{reading} "
        width = max(4, self.content_size.width - len(head))
        filled = int(round(level_fraction(self.rms_db) * width))
        peak = int(round(level_fraction(self.held_db) * width)) - 1
        text = Text(head, no_wrap=True)
        style = self.get_component_rich_style
        hot_from = int(width * level_fraction(-6.0))
        for i in range(width):
            if i == peak and self.held_db > FLOOR_DB:
                text.append("│", style("level-meter--peak"))
            elif i < filled:
                hot = "level-meter--hot" if i >= hot_from else "level-meter--bar"
                text.append("█", style(hot))
            else:
                text.append("░", style("level-meter--empty"))
        return text


class LevelSparkline(Sparkline):
    """A sparkline on a fixed -60..0 dBFS scale (Textual's scales to the data's own range)."""

    def render(self) -> RenderResult:
        data: Sequence[float] = self.data or []
        width, height = self.content_size.width, max(1, self.content_size.height)
        if width <= 0:
            return Text()
        low = self.get_component_styles("sparkline--min-color").color
        high = self.get_component_styles("sparkline--max-color").color
        columns = [bucket_max(data, i, width) for i in range(width)]
        styles = [low.blend(high, value).rich_color.name for value in columns]
        text = Text(no_wrap=True, end="")
        for row in reversed(range(height)):
            for value, style in zip(columns, styles, strict=True):
                eighths = int(round(value * height * 8)) - row * 8
                if eighths <= 0:
                    eighths = 1 if row == 0 else 0  # a baseline, so silence is visible
                char = BARS[min(7, eighths - 1)] if eighths > 0 else " "
                text.append(char, style=style)
            if row:
                text.append("\n")
        return text


def bucket_max(data: Sequence[float], column: int, width: int) -> float:
    """The loudest sample of the ``column``-th of ``width`` equal slices of ``data``."""
    if not data:
        return 0.0
    step = len(data) / width
    start = int(column * step)
    return max(data[start : max(start + 1, int((column + 1) * step))])


class VadIndicator(Static):
    """listening / you are speaking / thinking / agent speaking / muted."""

    def show(self, label: str, state: str) -> None:
        for name in ("listening", "speaking", "thinking", "agent", "muted", "offline"):
            self.set_class(name == state, f"-{name}")
        self.update(f"● {label}")


class LevelsPanel(Vertical):
    """Meters, VAD state and sparklines, fed from a levels array on a timer."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        size = FPS * HISTORY_S
        self.mic_history: deque[float] = deque([0.0] * size, maxlen=size)
        self.speaker_history: deque[float] = deque([0.0] * size, maxlen=size)
        self._holds = (PeakHold(), PeakHold())
        self._timer: Timer | None = None
        self._last: tuple[float, ...] | None = None
        self._still = 0

    def compose(self) -> ComposeResult:
        yield VadIndicator("● connecting", id="vad")
        yield LevelMeter("Mic", id="mic-meter")
        yield LevelSparkline(list(self.mic_history), id="mic-history")
        yield LevelMeter("Speaker", id="speaker-meter")
        yield LevelSparkline(list(self.speaker_history), id="speaker-history")

    def on_mount(self) -> None:
        self.border_title = "Audio"

    def start(self, levels: Callable[[], np.ndarray], clock: Callable[[], float]) -> None:
        """Sample ``levels()`` (the backend's dBFS array) FPS times a second."""
        if self._timer is None:
            self._timer = self.set_interval(1 / FPS, lambda: self.sample(levels(), clock()))

    def sample(self, levels: np.ndarray, now: float) -> None:
        """Take one reading; repaint only when the picture can have changed."""
        reading = tuple(float(x) for x in levels[:4])
        self._still = self._still + 1 if reading == self._last else 0
        self._last = reading
        mic_held = self._holds[0].update(reading[MIC_PEAK], now)
        speaker_held = self._holds[1].update(reading[SPEAKER_PEAK], now)
        self.query_one("#mic-meter", LevelMeter).set_level(reading[MIC_RMS], mic_held)
        self.query_one("#speaker-meter", LevelMeter).set_level(reading[SPEAKER_RMS], speaker_held)
        if self._still > len(self.mic_history):
            return  # the sparklines already show nothing but this value
        self.mic_history.append(level_fraction(reading[MIC_RMS]))
        self.speaker_history.append(level_fraction(reading[SPEAKER_RMS]))
        self.query_one("#mic-history", LevelSparkline).data = list(self.mic_history)
        self.query_one("#speaker-history", LevelSparkline).data = list(self.speaker_history)

    def show_vad(self, label: str, state: str) -> None:
        self.query_one(VadIndicator).show(label, state)
