"""What the WAV and sound-device backends share: a playback ring, meters, a recorder.

:class:`RingBackend` queues agent audio in a :class:`~voicelive_tui.audio.ring.PlaybackRing`
under the playback epoch, reports first samples to the listener, keeps the capture queue
and the optional ``--record`` file. A subclass moves samples between the ring and its
clock (a loop task for WAV files, PortAudio's callbacks for devices).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from .base import (
    MIC_PEAK,
    MIC_RMS,
    SAMPLE_RATE,
    SPEAKER_PEAK,
    SPEAKER_RMS,
    AudioBackend,
    AudioError,
    AudioListener,
)
from .capture import CaptureQueue
from .levels import LevelMeter
from .recorder import SessionRecorder
from .ring import PlaybackRing

log = logging.getLogger(__name__)


def pcm_to_samples(pcm: bytes) -> np.ndarray:
    """PCM16 little-endian bytes as an int16 array view (a trailing odd byte is ignored)."""
    return np.frombuffer(pcm, dtype=np.int16, count=len(pcm) // 2)


class RingBackend(AudioBackend):
    """An AudioBackend whose speaker reads a PlaybackRing (see module docstring)."""

    def __init__(
        self,
        *,
        ring_seconds: float = 300.0,
        meter_block: int = 1,
        record: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.ring_seconds = ring_seconds
        self.ring = PlaybackRing(round(SAMPLE_RATE * ring_seconds))
        self.record_path = Path(record) if record else None
        self._capture = CaptureQueue()
        self._recorder: SessionRecorder | None = None
        self._listener: AudioListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._set_meters(meter_block)

    def _set_meters(self, block: int) -> None:
        """(Re)build the level meters for blocks of up to ``block`` samples."""
        self._mic_meter = LevelMeter(self.levels, MIC_RMS, MIC_PEAK, block)
        self._speaker_meter = LevelMeter(self.levels, SPEAKER_RMS, SPEAKER_PEAK, block)

    def capture(self) -> AsyncIterator[bytes]:
        return self._capture.blocks()

    def play(self, item_id: str, pcm: bytes) -> None:
        self.ring.write(item_id, pcm_to_samples(pcm))

    def barge_in(self) -> None:
        self.epoch = self.ring.bump_epoch()

    def played_ms(self, item_id: str) -> int:
        return self.ring.played_ms(item_id)

    def pending_ms(self) -> int:
        return self.ring.pending_ms()

    def stats(self) -> dict[str, int]:
        return {
            "underruns": self.ring.underruns,
            "overflows": self.ring.overflows,
            "discarded": self.ring.discarded,
            "capture_dropped": self._capture.dropped,
        }

    def _open_recorder(self) -> None:
        """Start the ``--record`` file if asked and not started; AudioError on failure."""
        if self.record_path is None or self._recorder is not None:
            return
        try:
            self._recorder = SessionRecorder(self.record_path, reference=self.echo_reference)
        except OSError as exc:
            raise AudioError(f"cannot write recording: {exc}") from exc
        # --replay finds the recording, and when it started, by this line.
        log.info("Recording the session to %s", self.record_path.resolve())

    def _close_recorder(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def _report_started(self) -> None:
        """Tell the listener which items played their first sample since the last call."""
        if self._listener is not None:
            for item_id, when in self.ring.poll_started():
                self._listener.on_playback_started(item_id, when)
