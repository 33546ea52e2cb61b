"""What the meters and sparklines draw, and which cells a new reading changes."""

from __future__ import annotations

from voicelive_tui.ui.widgets.levels import changed_cells, meter_cells, sparkline_columns


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
