"""The audio hand-off between the Voice Live session and an audio backend.

The session (asyncio side) talks to every backend through :class:`AudioBackend`:

* capture: ``async for block in backend.capture()`` yields PCM16 mono blocks at
  :data:`SAMPLE_RATE` (the session appends them to the input buffer unless muted);
* playback: ``backend.play(item_id, pcm)`` queues agent audio under the current
  playback epoch; ``backend.barge_in()`` bumps the epoch so everything queued before
  is dropped within one audio block;
* feedback: ``backend.played_ms(item_id)`` says how much of an item the user actually
  heard (for ``conversation.item.truncate``), and :class:`AudioListener` callbacks
  report the first sample played of an item and a lost device, always on the loop
  thread.

All methods are called on the asyncio loop thread; real-time threads of a backend
never call into the session except through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .choices import DeviceEntry, InputLevels

SAMPLE_RATE = 24_000
"""Voice Live's PCM16 rate, used on the wire in both directions."""

SILENCE_DB = -120.0
"""The floor of every level meter, in dBFS."""

# Indices into AudioBackend.levels.
MIC_RMS, MIC_PEAK, SPEAKER_RMS, SPEAKER_PEAK = range(4)


def ms_to_samples(ms: float, rate: int = SAMPLE_RATE) -> int:
    """Number of samples in ``ms`` milliseconds at ``rate``."""
    return int(round(ms * rate / 1000))


class AudioListener(Protocol):
    """What a backend tells the session; every call arrives on the loop thread."""

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        """The first sample of ``item_id`` reached the output device."""

    def on_audio_fault(self, message: str) -> None:
        """A device failed or vanished; the backend now runs text-only (and may be
        reconnecting by itself)."""

    def on_audio_restored(self, message: str) -> None:
        """The backend reopened its devices by itself; ``message`` says what is used now
        (and which named device was gone and replaced by the default)."""

    def on_device_changed(self, message: str, *, switched: bool) -> None:
        """The devices changed mid-session: ``switched``, a stream moved to another device
        (chosen, the new default followed, or a named device switched back to); else only
        news (a named device gone or returned). ``message``: for the user, may be empty."""


class AudioBackend(abc.ABC):
    """One way of hearing the user and speaking to them (device, WAV files, nothing)."""

    kind: str = "none"
    """"sounddevice", "wav" or "none"."""
    metering: bool = False
    """True while a front end shows ``levels`` (the dashboard): only then are blocks
    measured. Console mode shows no meter and pays for none: a level meter in a callback
    that runs every 20 ms costs about 100 us of CPU a block with cold caches (2.6 us warm),
    a quarter of console mode's CPU while quiet."""

    def __init__(self) -> None:
        # mic RMS, mic peak, speaker RMS, speaker peak, in dBFS; written by the audio
        # side, read by the UI about 20 times a second.
        self.levels = np.full(4, SILENCE_DB, dtype=np.float32)
        self.epoch = 0
        # When True, capture() stops yielding blocks and the recorder's mic channel gets
        # silence, but the mic level meter keeps moving ("muted but heard").
        self.muted = False
        # One line for the user when the backend runs without audio (why, and how to
        # get audio); empty when audio works.
        self.notice = ""
        # True after a device failed; reopen() clears it.
        self.faulted = False
        # True while a faulted backend retries its devices by itself.
        self.recovering = False
        # Set before start() (only where supports_echo_reference): capture() then yields
        # interleaved stereo blocks, channel 0 the microphone, channel 1 what the speaker
        # played when it was captured (the client echo reference).
        self.echo_reference = False

    @property
    def supports_echo_reference(self) -> bool:
        """True when this backend can send what its speaker played beside the microphone."""
        return False

    @property
    def output_latency_s(self) -> float:
        """How long the output device holds audio before it sounds (0: unknown or none)."""
        return 0.0

    @property
    def has_input(self) -> bool:
        """True when capture() yields real audio."""
        return False

    @property
    def has_output(self) -> bool:
        """True when play() is heard (or written) somewhere."""
        return False

    def describe(self) -> str:
        """A short line for the status bar, e.g. 'PulseAudio: mic -> speaker'."""
        return "no audio"

    @abc.abstractmethod
    async def start(self, loop: asyncio.AbstractEventLoop, listener: AudioListener) -> None:
        """Open devices or files. Raises AudioError when that is impossible."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close devices and files; safe to call twice."""

    @abc.abstractmethod
    def capture(self) -> AsyncIterator[bytes]:
        """PCM16 mono blocks at SAMPLE_RATE as the microphone delivers them."""

    @abc.abstractmethod
    def play(self, item_id: str, pcm: bytes) -> None:
        """Queue agent audio of ``item_id`` under the current epoch."""

    @abc.abstractmethod
    def barge_in(self) -> None:
        """Bump the playback epoch: nothing queued before is played after one block."""

    @abc.abstractmethod
    def played_ms(self, item_id: str) -> int:
        """Milliseconds of ``item_id`` that reached the output so far."""

    def pending_ms(self) -> int:
        """Milliseconds of agent audio queued and not yet played."""
        return 0

    async def reopen(self) -> None:
        """Try again to open devices after a fault. Raises AudioError on failure."""
        return None

    def device_entries(self) -> list[DeviceEntry]:
        """The devices to choose from (the device screen; blocking: call from a thread)."""
        return []

    def open_meters(self, entries: list[DeviceEntry]) -> InputLevels | None:
        """Live levels of ``entries``' inputs while the device screen is open (or None)."""
        return None

    async def choose_device(self, entry: DeviceEntry) -> None:
        """Switch to ``entry`` mid-session. Raises AudioError when it cannot."""
        raise AudioError(f"this run has no sound devices to switch ({self.describe()})")

    def stats(self) -> dict[str, int]:
        """Counters for the status bar and the log at close: ``underruns`` (the speaker
        starved) and ``overflows`` (audio lost to a full buffer), for the status bar when
        non-zero, then backend-specific parts. Cheap enough to poll with the meters."""
        return {}


class AudioError(Exception):
    """An audio device or file could not be opened; the message says what to do."""
