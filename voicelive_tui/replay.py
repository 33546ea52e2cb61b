"""``--replay``: a past session on the dashboard, from its events log (and its recording).

:func:`load_replay` reads ``<stamp>_events.jsonl`` (a log folder: its newest run) and finds
the ``--record`` WAV the run's technical log names, if it still exists.
:class:`ReplaySession` feeds the events, at their recorded pace divided by ``speed``,
through the same conversation reducer and observers a live session uses, and moves the
level meters from the recording, and at real speed plays the recording's agent channel on
the speaker (``speaker``: the sound devices, when there are any). No network, no
credentials, no new log files; the clock is the recorded one, so times and latencies read
as they were. Space pauses and resumes,
``n`` steps to the next event while paused.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.audio.base import (
    MIC_PEAK,
    MIC_RMS,
    SAMPLE_RATE,
    SPEAKER_PEAK,
    SPEAKER_RMS,
    AudioBackend,
)
from voicelive_tui.audio.factory import start_backend
from voicelive_tui.audio.levels import LevelMeter
from voicelive_tui.config import ConfigError
from voicelive_tui.logs import PLAYBACK_STARTED, LineDirection, per_event
from voicelive_tui.session import VoiceLiveSession
from voicelive_tui.updates import StateChanged

TICK_S = 0.05
"""How often the replay moves its clock (and the meters) forward."""
FEED_AHEAD_S = 0.3
"""How far ahead of the replay clock the speaker is given the recording's sound."""
SOUND_ITEM = "replay"
RECORDING_LINE = re.compile(r"^(\S+ \S+):[^:]*:INFO:Recording the session to (.+)$", re.M)


@dataclass(frozen=True)
class Recorded:
    """One line of the events log."""

    at: float  # Unix time
    direction: LineDirection
    event: dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """The ``--record`` WAV: left the microphone, right the agent; ``start`` in Unix time."""

    start: float
    rate: int
    mic: np.ndarray
    agent: np.ndarray

    def window(self, channel: np.ndarray, at: float, window_s: float = TICK_S) -> np.ndarray:
        """The samples of ``channel`` in the ``window_s`` before Unix time ``at``."""
        lo = max(0, int((at - self.start - window_s) * self.rate))
        hi = max(0, int((at - self.start) * self.rate))
        return channel[lo:hi]


@dataclass(frozen=True)
class Replay:
    """What ``--replay`` plays: the events, and the recording when there is one."""

    events_path: Path
    events: list[Recorded]
    recording: Recording | None


def events_file(path: Path) -> Path:
    """``path`` itself, or the newest ``*_events.jsonl`` in the folder ``path``."""
    if path.is_dir():
        found = sorted(path.glob("*_events.jsonl"))
        if not found:
            raise ConfigError(f"--replay: no *_events.jsonl in {path}")
        return found[-1]
    if not path.is_file():
        raise ConfigError(f"--replay: {path} does not exist")
    return path


def read_events(path: Path) -> list[Recorded]:
    """The events log's lines, in order; ConfigError (one line) when it is not one."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--replay: cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            # A run of microphone appends reads as the lines of its appends.
            for entry in per_event(json.loads(line)):
                at = datetime.fromisoformat(entry["time"]).timestamp()
                direction = entry["direction"]
                event = entry.get("event")  # a skipped frame has none
                if isinstance(event, dict) and direction in ("sent", "received", "local"):
                    out.append(Recorded(at, direction, event))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"--replay: {path.name} line {number} is not an events-log line ({exc})"
            ) from exc
    if not out:
        raise ConfigError(f"--replay: {path} holds no events")
    return out


def find_recording(events_path: Path, given: Path | None) -> Recording | None:
    """The recording of the run: ``given``, or the one its technical log names."""
    start: float | None = None
    path = given
    technical = events_path.with_name(events_path.name.replace("_events.jsonl", "_voicelive.log"))
    if technical.is_file():
        found = RECORDING_LINE.search(technical.read_text(encoding="utf-8", errors="replace"))
        if found:
            start = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            path = path or Path(found.group(2).strip())
    if path is None or not path.is_file():
        return None
    try:
        with wave.open(str(path)) as w:
            rate, channels = w.getframerate(), w.getnchannels()
            frames = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    except (OSError, wave.Error, EOFError):
        return None
    if channels not in (2, 3):  # a third channel is the echo reference
        return None
    both = frames.reshape(-1, channels)
    if start is None:  # no log line: assume it started with the first event
        start = path.stat().st_mtime - both.shape[0] / rate
    return Recording(start, rate, both[:, 0].copy(), both[:, 1].copy())


def load_replay(path: Path, recording: Path | None = None) -> Replay:
    events_path = events_file(path)
    events = read_events(events_path)
    return Replay(events_path, events, find_recording(events_path, recording))


class ReplayAudio(NullBackend):
    """No devices: the meters move from the recording."""

    def __init__(self, recording: Recording | None) -> None:
        super().__init__()
        self.recording = recording
        # The devices' own meters, fed from the recording instead of a callback.
        self._meters: list[tuple[LevelMeter, np.ndarray]] = []
        if recording is not None:
            block = int(TICK_S * recording.rate) + 1
            self._meters = [
                (LevelMeter(self.levels, MIC_RMS, MIC_PEAK, block), recording.mic),
                (LevelMeter(self.levels, SPEAKER_RMS, SPEAKER_PEAK, block), recording.agent),
            ]

    @property
    def has_input(self) -> bool:
        return self.recording is not None

    def describe(self) -> str:
        return "replay: levels from the recording" if self.recording else "replay: no recording"

    def show(self, at: float) -> None:
        for meter, channel in self._meters:
            assert self.recording is not None  # meters exist only with a recording
            samples = self.recording.window(channel, at)
            if samples.size:
                meter.measure(samples)
            else:
                meter.reset()


class ReplaySession(VoiceLiveSession):
    """Feeds a :class:`Replay` to the observers at ``speed``; the clock is the recorded one."""

    def __init__(
        self, replay: Replay, speed: float, *, speaker: AudioBackend | None = None, **kwargs: Any
    ) -> None:
        self.replay = replay
        self.speed = speed
        recording = replay.recording
        playable = recording is not None and recording.rate == SAMPLE_RATE and speed == 1.0
        self.speaker = speaker if playable else None
        self._fed_until: float | None = None
        self.position = replay.events[0].at
        self._audio = ReplayAudio(replay.recording)
        super().__init__(audio=self._audio, clock=lambda: self.position, **kwargs)
        self.paused = asyncio.Event()
        self._step = asyncio.Event()
        self._stop = asyncio.Event()
        self.finished = asyncio.Event()

    # -- controls -----------------------------------------------------------------

    def quit(self) -> None:
        self._stop.set()

    def toggle_pause(self) -> bool:
        if self.paused.is_set():
            self.paused.clear()
        else:
            self.paused.set()
            if self.speaker is not None:  # silent at once, as a barge-in is
                self.speaker.barge_in()
                self._fed_until = None
        return self.paused.is_set()

    def step(self) -> None:
        self._step.set()

    def reconnect(self) -> None:
        self.notice("A replay: there is nothing to reconnect to.")

    async def interrupt(self) -> None:
        paused = self.toggle_pause()
        self.notice("Replay paused: space resumes, n steps" if paused else "Replay resumed")

    async def send_text(self, text: str) -> None:
        self.notice("A replay is read-only: nothing is sent.")

    # -- the replay ---------------------------------------------------------------

    async def run(self) -> None:
        conv = self.conversation
        conv.connecting()
        self.notice(
            f"Replay of {self.replay.events_path.name} at x{self.speed:g}: space pauses, "
            "n steps while paused, q quits."
        )
        if self.speaker is not None:
            self.speaker = await start_backend(
                self.speaker, asyncio.get_running_loop(), self.dialogue
            )
        started = time.monotonic()
        origin = self.position
        for recorded in self.replay.events:
            while not self._stop.is_set():
                if self.paused.is_set():
                    if self._step.is_set():
                        self._step.clear()
                        origin, started = recorded.at, time.monotonic()
                        break
                    await self._pause_tick()
                    origin, started = self.position, time.monotonic()
                    continue
                target = origin + (time.monotonic() - started) * self.speed
                if target >= recorded.at:
                    break
                self.position = target
                self._audio.show(target)
                self._feed_speaker(target)
                await asyncio.sleep(min(TICK_S, (recorded.at - target) / self.speed))
            if self._stop.is_set():
                break
            self.position = recorded.at
            self._audio.show(recorded.at)
            self._apply(recorded)
        self.finished.set()
        if not self._stop.is_set():
            self.notice("End of the replay: q quits.")
            await self._stop.wait()
        if self.speaker is not None:
            await self.speaker.stop()
        conv.closed()
        self._emit(StateChanged(self.position))

    def _feed_speaker(self, at: float) -> None:
        """Give the speaker the recording's agent channel up to ``at`` + FEED_AHEAD_S."""
        recording = self.replay.recording
        if self.speaker is None or recording is None or not self.speaker.has_output:
            return
        start = self._fed_until if self._fed_until is not None else at
        end = at + FEED_AHEAD_S
        lo = max(0, int((start - recording.start) * recording.rate))
        hi = min(recording.agent.size, int((end - recording.start) * recording.rate))
        if hi > lo:
            self.speaker.play(SOUND_ITEM, recording.agent[lo:hi].tobytes())
        self._fed_until = end

    async def _pause_tick(self) -> None:
        pause = asyncio.ensure_future(self._step.wait())
        try:
            await asyncio.wait({pause}, timeout=TICK_S)
        finally:
            pause.cancel()

    def _apply(self, recorded: Recorded) -> None:
        """One event through the reducer and the observers, as a live session does, but
        with no log written."""
        event = recorded.event
        if recorded.direction == "local":
            if event.get("type") == PLAYBACK_STARTED:
                self.conversation.playback_started(str(event.get("item_id")), recorded.at)
                self._emit(StateChanged(recorded.at))
            return
        self.dialogue.replay(recorded.direction, event)
