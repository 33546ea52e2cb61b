"""The status bar: connection, endpoint, mode, session, voice, microphone, latency."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from voicelive_tui.ui.view import StatusView

MIC_STYLES = {"MUTED": "muted", "live": "live"}


class StatusBar(Widget):
    """One line at the top (two when narrow; a field is never split across lines)."""

    COMPONENT_CLASSES = {
        "status--connecting",
        "status--ready",
        "status--reconnecting",
        "status--closed",
        "status--label",
        "status--muted",
        "status--live",
        "status--glitches",
    }

    view: reactive[StatusView] = reactive(StatusView)
    """What is shown; assigning an equal view repaints nothing, and a new one lays the
    screen out again only when it takes another number of lines (a layout of the whole
    dashboard costs several milliseconds; the latency and token counts change every turn)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._laid_out_lines = 0  # what the last layout made room for

    def watch_view(self, view: StatusView) -> None:
        if len(self._lines(view, self.content_size.width)) != self._laid_out_lines:
            self.refresh(layout=True)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status--{name}", partial=True)

    def fields(self, view: StatusView) -> list[Text]:
        """The status fields in order, each styled, connection state first."""
        state = view.connection
        if state == "reconnecting" and view.reconnect_in_s is not None:
            state = f"reconnecting in {max(0.0, view.reconnect_in_s):.0f} s"
        out = [Text(f" ● {state} ", style=self._style(view.connection))]
        if view.expires_in_s is not None:
            left = max(0, view.expires_in_s)
            out.append(
                Text(
                    f"session ends in {left // 60}:{left % 60:02d}",
                    style=self._style("reconnecting"),
                )
            )
        latency = f"{view.latency_ms:.0f} ms" if view.latency_ms is not None else "–"
        if view.rtt_ms is not None:
            latency += f" (rtt {view.rtt_ms:.0f} ms)"
        elif view.rtt_unavailable:
            latency += " (rtt n/a)"
        parts: list[tuple[str, str, str | None]] = [
            ("", view.host, None),
            ("", view.mode, None),
            ("session ", view.session_id or "–", None),
            ("voice ", view.voice or "–", None),
            ("mic ", view.mic, MIC_STYLES.get(view.mic)),
            ("v2v ", latency, None),
            ("tokens ", view.usage or "", None),
            ("conversation ", view.conversation_id or "", None),
            ("audio ", view.audio or "", None),
            ("echo ", view.echo or "", None),
            ("", view.glitches or "", "glitches"),
            ("", view.self_interruptions or "", "glitches"),
            ("", view.approvals or "", "glitches"),
            ("limit ", view.limits or "", "glitches"),
        ]
        for caption, value, style in parts:
            if value:
                text = Text(caption, style=self._style("label"))
                text.append(value, style=self._style(style) if style else "")
                out.append(text)
        return out

    def render(self) -> RenderResult:
        lines = self._lines(self.view, self.content_size.width)
        return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)

    def _lines(self, view: StatusView, width: int) -> list[Text]:
        """The fields laid out in lines of ``width`` cells."""
        width = max(1, width)
        lines: list[Text] = [Text()]
        for field in self.fields(view):
            line = lines[-1]
            gap = 2 if line.cell_len else 0
            if line.cell_len and line.cell_len + gap + field.cell_len > width:
                lines.append(Text(" "))
                line, gap = lines[-1], 0
            line.append(" " * gap)
            line.append_text(field)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._laid_out_lines = len(self._lines(self.view, width)) if width else 1
        return self._laid_out_lines
