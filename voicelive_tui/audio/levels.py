"""RMS and peak levels in dBFS, computed in audio callbacks without allocation.

:class:`LevelMeter` owns a float64 scratch buffer sized for the largest block; the
callback copies the int16 block into it and reduces it with ``out=`` ufuncs, then writes
two floats into the backend's shared ``levels`` array (which the UI polls ~20 Hz).
Full scale is 32768, so a full-scale sine reads about -3.01 dBFS RMS and 0 dBFS peak.
"""

from __future__ import annotations

import math

import numpy as np

from .base import SILENCE_DB

FULL_SCALE = 32768.0


def to_dbfs(amplitude: float) -> float:
    """Linear amplitude (0..1 of full scale) to dBFS, floored at SILENCE_DB."""
    if amplitude <= 0.0:
        return SILENCE_DB
    db = 20.0 * math.log10(amplitude)
    return db if db > SILENCE_DB else SILENCE_DB


class LevelMeter:
    """Writes RMS and peak of int16 blocks into two cells of a levels array."""

    def __init__(self, levels: np.ndarray, rms_index: int, peak_index: int, max_block: int):
        self._levels = levels
        self._rms_index = rms_index
        self._peak_index = peak_index
        self._scratch = np.zeros(max(1, max_block), dtype=np.float64)

    def measure(self, block: np.ndarray) -> None:
        """Measure an int16 block (1-D, any stride). Real-time safe for n <= max_block."""
        n = block.shape[0]
        if n == 0:
            return
        if n > self._scratch.shape[0]:
            # Only when a host delivers a bigger block than announced; happens once.
            self._scratch = np.zeros(n, dtype=np.float64)
        s = self._scratch[:n]
        np.copyto(s, block, casting="unsafe")
        np.abs(s, out=s)
        peak = float(s.max())
        mean_square = float(np.dot(s, s)) / n
        self._levels[self._rms_index] = to_dbfs(math.sqrt(mean_square) / FULL_SCALE)
        self._levels[self._peak_index] = to_dbfs(peak / FULL_SCALE)

    def reset(self) -> None:
        """Show silence (e.g. when the device is gone)."""
        self._levels[self._rms_index] = SILENCE_DB
        self._levels[self._peak_index] = SILENCE_DB
