"""Reduced motion (issue 27): --no-motion or TEXTUAL_ANIMATIONS=none turns the meters into
numbers redrawn at most twice a second, and the sparklines go."""

from __future__ import annotations

import time

import pytest
from textual.strip import Strip

from tests.ui.conftest import SIZE, wait_for
from voicelive_tui.ui.widgets.levels import BARS, STILL_PERIOD_S, still_reading

WINDOW_S = 2.0
"""How long the repaints are counted: at most five changes may show in it (an animated meter
makes one a frame)."""


@pytest.mark.parametrize("how", ["--no-motion", "TEXTUAL_ANIMATIONS=none"])
async def test_levels_are_numbers_at_most_twice_a_second(emulator, dashboard, speech_wav, how):
    dash = dashboard(emulator, input_wav=speech_wav, greeting=False, no_motion=how == "--no-motion")
    app = dash.app
    if how != "--no-motion":
        app.animation_level = "none"  # what Textual reads from TEXTUAL_ANIMATIONS=none
    async with app.run_test(size=SIZE) as pilot:
        panel = app.levels_panel
        drawn: list[tuple[float, str]] = []
        render_line = panel.mic_bar.render_line

        def counted(y: int) -> Strip:  # each repaint of the mic meter, with what it drew
            strip = render_line(y)
            drawn.append((time.monotonic(), strip.text))
            return strip

        panel.mic_bar.render_line = counted  # type: ignore[method-assign]
        await wait_for(
            pilot, lambda: any("dB" in text for _, text in drawn), what="a level as a number"
        )
        start = time.monotonic()
        await wait_for(pilot, lambda: time.monotonic() - start > WINDOW_S, what="the window")
        window = [text for at, text in drawn if at >= start]
        assert not panel.mic_sparkline.display and not panel.speaker_sparkline.display
        assert all(not set(text) & set(BARS + "█░│") for _, text in drawn), drawn[-3:]
        changes = sum(1 for a, b in zip(window, window[1:], strict=False) if a != b)
        assert changes <= WINDOW_S / STILL_PERIOD_S + 1, window


def test_still_reading_words() -> None:
    assert still_reading(-80.0, -80.0) == "silent"
    assert still_reading(-23.4, -12.2) == "-23 dB, peak -12 dB"
    assert still_reading(-80.0, -12.0) == "silent, peak -12 dB"
