"""What a frame costs while the user talks (issue 26): only what changed is rendered, laid
out and written, and the screen shows the same as before."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

from rich.segment import Segment
from textual._ansi_sequences import SYNC_END, SYNC_START
from textual._compositor import ChopsUpdate, Compositor
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from voicelive_tui import ui
from voicelive_tui.ui.clock import WallClock
from voicelive_tui.ui.driver import FrameDroppingWriter
from voicelive_tui.ui.view import StatusView
from voicelive_tui.ui.widgets.events import EventLog
from voicelive_tui.ui.widgets.keys import KeyBar
from voicelive_tui.ui.widgets.levels import (
    BARS,
    LABEL_CELLS,
    LevelBar,
    LevelSparkline,
    bar_cells,
    level_fraction,
    meter_cells,
    sparkline_columns,
)
from voicelive_tui.ui.widgets.status import StatusBar
from voicelive_tui.updates import EventReceived

from .conftest import SIZE, wait_for, wait_for_spoken_answer

APP_CSS = Path(ui.__file__).with_name("app.tcss")
"""The dashboard's own styles, so the widgets look and size as they do there."""


def cells(segments: list[Segment]) -> list[tuple[str, object]]:
    """A line as (character, style) per cell, however it is split into segments (the
    mouse offsets Textual adds to a rendered Text left out: no one selects a meter)."""
    return [
        (char, segment.style and segment.style.clear_meta_and_links())
        for segment in segments
        for char in segment.text
    ]


# -- the meters ----------------------------------------------------------------------------


class Meters(App[None]):
    CSS_PATH = APP_CSS

    def compose(self) -> ComposeResult:
        yield LevelBar("Mic", id="bar")
        yield LevelSparkline(id="chart")


def meter_reference(bar: LevelBar, rms_db: float, held_db: float) -> list[tuple[str, object]]:
    """The meter cell by cell, as its docstring says it looks."""
    width = bar.content_size.width
    reading, filled, peak = meter_cells(rms_db, held_db, width)
    cells_ = bar_cells(width, reading)
    hot_from = int(cells_ * level_fraction(-6.0))
    base = bar.rich_style
    line = [(c, base) for c in f"{bar.label:<{LABEL_CELLS}}{reading} "]
    for i in range(cells_):
        if i == peak:
            char, part = "│", "level-meter--peak"
        elif i < filled:
            char, part = "█", "level-meter--hot" if i >= hot_from else "level-meter--bar"
        else:
            char, part = "░", "level-meter--empty"
        line.append((char, base + bar.get_component_rich_style(part)))
    return line[:width]


async def test_a_meter_draws_every_cell_as_before_in_a_few_runs():
    async with Meters().run_test(size=(40, 4)) as pilot:
        bar = pilot.app.query_one(LevelBar)
        readings = [(-80.0, -80.0), (-60.0, -30.0), (-33.3, -12.0), (-5.0, -1.0), (-1.0, -40.0)]
        readings += [(-0.2, -0.1), (-20.0, -20.0), (-45.0, 0.0)]
        for rms, held in readings:
            bar.rms_db, bar.held_db = rms, held
            segments = list(bar.render_line(0))
            assert cells(segments) == meter_reference(bar, rms, held), (rms, held)
            # Runs of equal cells, not one segment a cell: the head, the filled part (two
            # colours), the peak, the empty part.
            assert len(segments) <= 6, segments


async def test_a_sparkline_row_is_a_run_per_level_and_silence_one_run():
    async with Meters().run_test(size=(40, 4)) as pilot:
        chart = pilot.app.query_one(LevelSparkline)
        width, height = chart.content_size.width, chart.content_size.height
        chart.set_history([0.0] * 200, 200)
        assert [len(list(chart.render_line(y))) for y in range(height)] == [1] * height
        history = [(i % 50) / 50 for i in range(200)]
        chart.set_history(history, 1000)
        columns = sparkline_columns(history, 1000, width, height)
        for y in range(height):
            row = height - 1 - y
            expected = []
            for value in columns:
                eighths = value - row * 8
                eighths = (1 if row == 0 else 0) if eighths <= 0 else eighths
                expected.append(BARS[min(7, eighths - 1)] if eighths > 0 else " ")
            segments = list(chart.render_line(y))
            assert "".join(s.text for s in segments) == "".join(expected)
            runs = 1 + sum(1 for a, b in zip(columns, columns[1:], strict=False) if a != b)
            assert len(segments) == runs


# -- the status bar ------------------------------------------------------------------------


class Status(App[None]):
    CSS_PATH = APP_CSS

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Widget()


def count_layouts(app: App[None]) -> list[int]:
    """A counter of the screen's layouts from now on."""
    screen = app.screen
    layouts = [0]
    refresh_layout = screen._refresh_layout

    def counted(*args, **kwargs):
        layouts[0] += 1
        return refresh_layout(*args, **kwargs)

    screen._refresh_layout = counted  # type: ignore[method-assign]
    return layouts


async def test_the_status_bar_lays_the_screen_out_only_when_its_height_changes():
    async with Status().run_test(size=(100, 10)) as pilot:
        bar = pilot.app.query_one(StatusBar)
        view = StatusView(connection="ready", host="127.0.0.1", mode="voice", mic="live")
        bar.view = view
        await pilot.pause()
        assert bar.size.height == 1
        layouts = count_layouts(pilot.app)
        for latency in range(300, 330):  # each turn's latency and tokens: one line still
            bar.view = view = StatusView(**{**vars(view), "latency_ms": float(latency)})
            await pilot.pause()
        assert "v2v 329 ms" in bar.render().plain  # type: ignore[union-attr]
        assert layouts[0] == 0
        # A field that does not fit wraps the bar onto a second line: that needs room.
        bar.view = StatusView(**{**vars(view), "conversation_id": "c" * 60})
        await wait_for(pilot, lambda: bar.size.height == 2, what="a two-line status bar")
        assert layouts[0] >= 1


# -- the event stream ----------------------------------------------------------------------


class Events(App[None]):
    CSS_PATH = APP_CSS

    def compose(self) -> ComposeResult:
        yield EventLog(WallClock(0.0), id="events")


def received(n: int) -> EventReceived:
    return EventReceived({"type": f"response.output_item.added.{n}", "event_id": f"e{n}"}, n)


async def test_new_event_lines_scroll_into_view_without_a_layout_and_build_only_themselves():
    async with Events().run_test(size=(80, 12)) as pilot:
        log = pilot.app.query_one(EventLog)
        log.add_events([received(n) for n in range(30)])  # more than fit: a scroll bar
        await wait_for(pilot, lambda: log.show_vertical_scrollbar, what="the scroll bar")
        await pilot.pause()
        layouts = count_layouts(pilot.app)
        built: list[int] = []
        segments = log._segments

        def counted(entry, *text):
            built.append(entry.seq)
            return segments(entry, *text)

        log._segments = counted  # type: ignore[method-assign]
        for n in range(30, 40):
            log.add_events([received(n)])
            await pilot.pause()
        # Each new line is built once; the lines that only moved up are not built again
        # (a width change, which rebuilds them all, is left out).
        new = [seq for seq in built if seq >= 30]
        assert sorted(set(new)) == list(range(30, 40))
        assert len([seq for seq in built if seq < 30]) <= log.scrollable_content_region.height
        height = log.scrollable_content_region.height
        shown = [log.render_line(y).text for y in range(height)]
        assert "added.39" in shown[-1] and "added.38" in shown[-2]  # the tail, in order
        assert log.scroll_y == log.max_scroll_y
        assert log.vertical_scrollbar.window_virtual_size == 40
        assert layouts[0] == 0  # the panel kept its room: the screen was not laid out


async def test_the_first_lines_that_need_the_scroll_bar_still_lay_the_panel_out():
    async with Events().run_test(size=(80, 12)) as pilot:
        log = pilot.app.query_one(EventLog)
        await pilot.pause()
        log.add_events([received(n) for n in range(3)])  # they fit: no scroll bar
        await pilot.pause()
        layouts = count_layouts(pilot.app)
        seen_horizontal = False
        log.add_events([received(n) for n in range(3, 30)])
        for _ in range(10):
            await pilot.pause()
            seen_horizontal |= log.show_horizontal_scrollbar
        assert log.show_vertical_scrollbar and layouts[0] >= 1
        # Lines are cut at the panel's width: never a horizontal scroll bar, not even for
        # the frame between the vertical one showing and the lines narrowing beside it.
        assert not seen_horizontal
        width = log.scrollable_content_region.width
        assert log.virtual_size.width == width
        assert [log.render_line(y).cell_length for y in range(3)] == [width] * 3


async def test_event_lines_read_their_styles_once_until_the_styles_change():
    async with Events().run_test(size=(80, 12)) as pilot:
        log = pilot.app.query_one(EventLog)
        log.add_events([received(n) for n in range(30)])
        await wait_for(pilot, lambda: log.show_vertical_scrollbar, what="the scroll bar")
        await pilot.pause()
        reads: list[str] = []
        component = log.get_component_rich_style

        def counted(*names, **kwargs):
            reads.extend(names)
            return component(*names, **kwargs)

        log.get_component_rich_style = counted  # type: ignore[method-assign]
        for n in range(30, 40):
            log.add_events([received(n)])
            log.refresh(Region(0, 0, 10, 1))  # as a folded line does: Textual's cache forgets
            await pilot.pause()
        assert len(reads) == len(set(reads))  # each at most once, not once a line a refresh
        # Another theme: the lines take its colours (the kept styles are let go).
        before = log.render_line(log.scrollable_content_region.height - 1)
        pilot.app.theme = "textual-light" if pilot.app.theme != "textual-light" else "nord"
        await pilot.pause()
        log.add_events([received(40)])
        await pilot.pause()
        after = log.render_line(log.scrollable_content_region.height - 1)
        assert "added.40" in after.text
        summary = [s.style for s in after if "e40" in s.text][0]
        assert (
            summary == component("event-log--summary")
            and summary != [s.style for s in before if "e39" in s.text][0]
        )


# -- the compositor ------------------------------------------------------------------------


async def test_partial_updates_write_what_textual_wrote_and_render_only_what_changed(
    emulator_factory, dashboard, short_speech_wav
):
    """A spoken turn with its reply: every partial update is made twice, with Textual's
    own compositor and with ours, and must write the same to the terminal; the key bar,
    which does not change, is never rendered for one."""
    emu = await emulator_factory(speed=2.0, pacing="realtime")
    dash = dashboard(emu, input_wav=short_speech_wav, speed=4.0, greeting=False)
    ours = Compositor._get_renders
    textuals = getattr(ours, "__wrapped__", ours)  # Textual's own
    partial = Compositor.render_partial_update
    compared: list[int] = []
    differ: list[tuple[str, str]] = []
    key_bar_lines = 0
    counting = False
    key_bar_render = KeyBar.render_lines

    def counted(self: KeyBar, crop: Region) -> list[Strip]:
        nonlocal key_bar_lines
        key_bar_lines += counting
        return key_bar_render(self, crop)

    def both(self: Compositor) -> ChopsUpdate | None:
        nonlocal counting
        dirty = set(self._dirty_regions)
        Compositor._get_renders = textuals  # type: ignore[method-assign]
        try:
            before = partial(self)
        finally:
            Compositor._get_renders = ours  # type: ignore[method-assign]
        self._dirty_regions.update(dirty)
        counting = not any(isinstance(w, KeyBar) for w in dash.app.screen._dirty_widgets)
        try:
            after = partial(self)
        finally:
            counting = False
        if before is not None and after is not None:
            console = dash.app.console
            old, new = before.render_segments(console), after.render_segments(console)
            compared.append(len(new))
            if old != new:
                differ.append((old, new))
        return after

    KeyBar.render_lines = counted  # type: ignore[method-assign]
    Compositor.render_partial_update = both  # type: ignore[method-assign]
    try:
        async with dash.app.run_test(size=SIZE) as pilot:
            await wait_for_spoken_answer(pilot, dash)
    finally:
        Compositor.render_partial_update = partial  # type: ignore[method-assign]
        KeyBar.render_lines = key_bar_render  # type: ignore[method-assign]
    assert len(compared) >= 20, "too few partial updates to compare"
    assert not differ, differ[0]
    assert key_bar_lines == 0


class Panels(App[None]):
    """Two bordered panels side by side, each a container around line widgets."""

    CSS = """
    Horizontal { height: 1fr; }
    Vertical { border: round white; padding: 0 1; width: 1fr; }
    Line { height: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="row"):
            with Vertical(id="left"):
                for n in range(12):
                    yield Line(f"left {n}", id=f"left{n}")
            with Vertical(id="right"):
                for n in range(12):
                    yield Line(f"right {n}", id=f"right{n}")


class Line(Widget):
    def __init__(self, text: str, id: str) -> None:
        super().__init__(id=id)
        self.text = text

    def render_line(self, y: int) -> Strip:
        return Strip([Segment(self.text.ljust(self.size.width))])


async def test_a_frame_renders_the_changed_rows_of_the_front_widgets_only():
    """Two lines change in panels apart: only they and the screen (for their rows) are
    rendered, not the containers behind them nor anything in the box between; the
    terminal gets what Textual's own compositor writes."""
    async with Panels().run_test(size=(80, 20)) as pilot:
        app = pilot.app
        await pilot.pause()
        rendered: list[tuple[str, int]] = []
        render_lines = Widget.render_lines

        def counted(self: Widget, crop: Region) -> list[Strip]:
            name = "screen" if self is app.screen else self.id or type(self).__name__
            rendered.extend((name, y) for y in crop.line_range)
            return render_lines(self, crop)

        compositor = app.screen._compositor
        ours = Compositor._get_renders
        textuals = getattr(ours, "__wrapped__", ours)
        left, right = app.query_one("#left2", Line), app.query_one("#right9", Line)
        Widget.render_lines = counted  # type: ignore[method-assign]
        try:
            compositor._dirty_regions.update({left.region, right.region})
            update = compositor.render_partial_update()
            ours_written = update.render_segments(app.console) if update else ""
            ours_rendered = list(rendered)
            Compositor._get_renders = textuals  # type: ignore[method-assign]
            compositor._dirty_regions.update({left.region, right.region})
            textual = compositor.render_partial_update()
        finally:
            Compositor._get_renders = ours  # type: ignore[method-assign]
            Widget.render_lines = render_lines  # type: ignore[method-assign]
        assert textual is not None and ours_written == textual.render_segments(app.console)
        assert "left 2" in ours_written and "right 9" in ours_written
        widgets = {name for name, _ in ours_rendered}
        assert widgets == {"left2", "right9", "screen"}, ours_rendered
        rows = sorted({y for name, y in ours_rendered if name == "screen"})
        assert rows == sorted({left.region.y, right.region.y})


# -- the terminal writer -------------------------------------------------------------------


def test_the_writer_writes_a_frame_once_at_its_end():
    read_fd, write_fd = os.pipe()
    out = os.fdopen(write_fd, "w", encoding="utf-8")
    writer = FrameDroppingWriter(out, lambda: None)
    writer.start()
    try:
        writer.write("before ")  # a write outside a frame goes out at once
        assert select.select([read_fd], [], [], 10)[0]
        assert os.read(read_fd, 100) == b"before "
        writer.write(SYNC_START)
        writer.write("the frame")
        # Nothing of the frame reaches the terminal before its end.
        assert not select.select([read_fd], [], [], 0.3)[0]
        writer.write(SYNC_END)
        assert select.select([read_fd], [], [], 10)[0]
        got = b""
        while len(got) < len(f"{SYNC_START}the frame{SYNC_END}"):
            got += os.read(read_fd, 100)
        assert got.decode() == f"{SYNC_START}the frame{SYNC_END}"
    finally:
        done = threading.Thread(target=writer.stop)
        done.start()
        done.join(10)
        out.close()
        os.close(read_fd)
