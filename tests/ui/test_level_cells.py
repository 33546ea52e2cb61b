"""What the meters and sparklines draw, and which cells a new reading changes."""

from __future__ import annotations

import random

from voicelive_tui.ui.widgets.levels import (
    advance_peaks,
    changed_cells,
    column_peaks,
    meter_cells,
    sparkline_columns,
)


def test_a_steady_reading_draws_the_same_cells():
    assert meter_cells(-20.2, -10.0, 40) == meter_cells(-20.4, -10.0, 40)
    assert changed_cells(meter_cells(-20.2, -10.0, 40), meter_cells(-20.4, -10.0, 40)) is None


def test_a_louder_reading_changes_the_reading_and_the_grown_cells_only():
    quiet, loud = meter_cells(-40.0, -30.0, 40), meter_cells(-20.0, -30.0, 40)
    first, end = changed_cells(quiet, loud)
    head = 8 + len(loud[0]) + 1
    assert first == 8  # the reading
    assert end == head + loud[1]  # up to the last filled cell, nothing beyond


def test_sparkline_moves_one_whole_column_at_a_time():
    history = [0.0] * 200
    width = 25  # 8 readings per column
    drawn = []
    for total in range(1, 17):
        history = history[1:] + [1.0 if total % 2 else 0.5]
        drawn.append(sparkline_columns(history, total, width, 1))
    # Within a slice only the newest column changes; a full slice shifts the chart.
    for before, after in zip(drawn[:7], drawn[1:8], strict=True):
        assert before[:-1] == after[:-1]
    assert drawn[8][-2] == 8 and drawn[8][:-2] == drawn[7][1:-1]


def test_sparkline_of_silence_is_flat():
    assert set(sparkline_columns([0.0] * 200, 1000, 30, 2)) == {0}


def test_a_new_reading_moves_the_peaks_as_counting_them_all_again():
    """The sparkline keeps each column's peak and counts again only the columns a new
    reading can change: at every width, reading after reading, the same as all of them."""
    rng = random.Random(26)
    for width in (1, 2, 7, 25, 29, 30, 33, 40, 64, 199, 200, 250):
        history = [0.0] * 200
        total = 0
        peaks = column_peaks(history, total, width)
        for _ in range(700):
            history = [*history[1:], rng.choice((0.0, rng.random(), 1.0))]
            total += 1
            peaks = advance_peaks(peaks, history, total)
            assert peaks == column_peaks(history, total, width), (width, total)
