"""The device screen (``d``): inputs and outputs, the one in use and the default marked, a
live level for each input while it is open; Enter (or a click) switches to a device at once.

The list comes from the audio backend (:meth:`AudioBackend.device_entries`, in a thread:
it asks PortAudio and ``pactl``); switching is :meth:`AudioBackend.choose_device` -- the
session, the socket and what is queued to play go on, only the stream changes.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from voicelive_tui.audio.base import MIC_RMS, SILENCE_DB, AudioBackend, AudioError
from voicelive_tui.audio.choices import DeviceEntry, InputLevels
from voicelive_tui.safe_text import displayable
from voicelive_tui.ui.widgets.levels import level_fraction

METER_CELLS = 10
METER_HZ = 10
COLUMNS = (("", "mark"), ("Device", "device"), ("Via", "via"), ("Rate", "rate"), ("Ch", "ch"))
LEVEL = "level"
EMPTY = "No sound devices to choose in this run"


def marks(entry: DeviceEntry) -> str:
    """'▶' in use, '*' the default."""
    return ("▶" if entry.current else " ") + ("*" if entry.default else " ")


def meter_text(db: float) -> Text:
    """A level as a bar of METER_CELLS cells."""
    full = round(level_fraction(db) * METER_CELLS)
    return Text.assemble(("█" * full, "green"), ("·" * (METER_CELLS - full), "dim"))


class DeviceScreen(ModalScreen[None]):
    """Choose the microphone and the speaker mid-session."""

    BINDINGS = [Binding("escape,q,d", "dismiss", "Close")]

    def __init__(self, audio: AudioBackend) -> None:
        super().__init__()
        self.audio = audio
        self.entries: list[DeviceEntry] = []
        self.meters: InputLevels | None = None
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="devices-body", classes="report-body") as body:
            body.border_title = "Devices"
            body.border_subtitle = "▶ in use  * default  Enter switches  Esc closes"
            yield Static(displayable(self.audio.describe()), id="devices-note")
            yield DataTable(id="devices-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (*COLUMNS, ("Level", LEVEL)):
            table.add_column(label, key=key)
        self.load()
        self.set_interval(1 / METER_HZ, self.update_levels)

    @work(thread=True, exclusive=True, group="devices", exit_on_error=False)
    def load(self) -> None:
        """Ask the backend for its devices, off the loop (PortAudio and pactl block)."""
        entries = self.audio.device_entries()
        self.app.call_from_thread(self.show_entries, entries)

    def show_entries(self, entries: list[DeviceEntry]) -> None:
        """Fill the table (outputs, then inputs) and start the input meters."""
        self.close_meters()
        self.entries = entries
        table = self.query_one(DataTable)
        table.clear()
        self._shown = {}
        self.query_one("#devices-note", Static).update(displayable(self.audio.describe()))
        if not entries:
            table.add_row("", Text(EMPTY, style="dim"), "", "", "", "", key="none")
            return
        for kind, title in (("output", "Outputs"), ("input", "Inputs")):
            table.add_row("", Text(title, style="bold"), "", "", "", "", key=f"title-{kind}")
            for entry in (e for e in entries if e.kind == kind):
                table.add_row(
                    marks(entry),
                    displayable(entry.name),
                    displayable(entry.where),
                    f"{entry.rate / 1000:g}k" if entry.rate else "",
                    str(entry.channels or ""),
                    "" if kind == "output" else meter_text(self.level(entry)),
                    key=entry.key,
                )
        current = next((i for i, e in enumerate(entries) if e.current), None)
        if current is not None:
            table.move_cursor(row=current + 1 + (entries[current].kind == "input"))
        if self.app.screen is not self:
            return  # closed meanwhile: no meters for a screen nobody sees
        try:
            self.meters = self.audio.open_meters(entries)
        except AudioError as exc:
            self.notify(str(exc), severity="warning")

    def level(self, entry: DeviceEntry) -> float:
        """The input's RMS in dBFS: the microphone's own meter for the one in use."""
        if entry.current:
            return float(self.audio.levels[MIC_RMS])
        return self.meters.level(entry) if self.meters is not None else SILENCE_DB

    def update_levels(self) -> None:
        """Redraw the level cells that changed (10 times a second while open)."""
        table = self.query_one(DataTable)
        for entry in self.entries:
            if entry.kind != "input":
                continue
            text = meter_text(self.level(entry))
            if self._shown.get(entry.key) != text.plain:
                self._shown[entry.key] = text.plain
                table.update_cell(entry.key, LEVEL, text)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        entry = next((e for e in self.entries if e.key == key), None)
        if entry is not None and not entry.current:
            self.run_worker(self.choose(entry), group="devices-choose", exit_on_error=False)

    async def choose(self, entry: DeviceEntry) -> None:
        """Switch to ``entry``, tell the user, list again (the marks moved)."""
        what = "Microphone" if entry.kind == "input" else "Speaker"
        self.close_meters()  # an input being metered may be the one to open
        try:
            await self.audio.choose_device(entry)
        except AudioError as exc:
            self.notify(f"{what} not switched: {exc}", severity="error")
        else:
            self.notify(f"{what}: {entry.name}")
        self.load()

    def close_meters(self) -> None:
        meters, self.meters = self.meters, None
        if meters is not None:
            meters.close()

    def on_unmount(self) -> None:
        self.close_meters()
