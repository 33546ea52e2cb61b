"""Level meters read known signals correctly, without allocating per block."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from tests.helpers import tone
from voicelive_tui.audio.base import MIC_PEAK, MIC_RMS, SILENCE_DB
from voicelive_tui.audio.levels import LevelMeter, to_dbfs


def measure(block: np.ndarray) -> tuple[float, float]:
    levels = np.full(4, SILENCE_DB, np.float32)
    LevelMeter(levels, MIC_RMS, MIC_PEAK, block.size).measure(block)
    return float(levels[MIC_RMS]), float(levels[MIC_PEAK])


def test_full_scale_sine_reads_minus_3_dbfs_rms_and_0_peak():
    rms, peak = measure(tone(1000, 0.2, amplitude=32767))
    assert rms == pytest.approx(-3.01, abs=0.05)
    assert peak == pytest.approx(0.0, abs=0.01)


def test_half_scale_sine_is_6_db_lower():
    rms, peak = measure(tone(1000, 0.2, amplitude=16384))
    assert rms == pytest.approx(-9.03, abs=0.05)
    assert peak == pytest.approx(-6.02, abs=0.05)


def test_most_negative_sample_is_full_scale_not_overflow():
    rms, peak = measure(np.full(480, -32768, np.int16))
    assert (rms, peak) == (pytest.approx(0.0), pytest.approx(0.0))


def test_silence_is_the_floor():
    assert measure(np.zeros(480, np.int16)) == (SILENCE_DB, SILENCE_DB)
    assert to_dbfs(0.0) == SILENCE_DB and to_dbfs(1e-9) == SILENCE_DB


def test_strided_view_like_a_callback_column():
    frames = np.zeros((480, 1), np.int16)
    frames[:, 0] = tone(1000, 0.02, amplitude=32767)
    rms, _ = measure(frames[:, 0])
    contiguous, _ = measure(tone(1000, 0.02, amplitude=32767))
    assert rms == pytest.approx(contiguous, abs=0.01)


def test_measure_does_not_allocate_buffers_in_steady_state():
    levels = np.full(4, SILENCE_DB, np.float32)
    meter = LevelMeter(levels, MIC_RMS, MIC_PEAK, 480)
    block = tone(1000, 0.02, amplitude=20000)
    meter.measure(block)
    tracemalloc.start()
    for _ in range(200):
        meter.measure(block)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak_bytes < 2048  # a 480-sample float64 copy alone would be 3840 bytes
