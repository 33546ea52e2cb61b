"""The status bar: connection, endpoint, mode, session, voice, microphone, latency."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class StatusView:
    """Everything the status bar shows, already reduced to plain values."""

    connection: str = "connecting"  # connecting, ready, reconnecting, closed
    reconnect_in_s: float | None = None
    host: str = ""
    mode: str = ""
    session_id: str | None = None
    voice: str | None = None
    mic: str = "no audio"  # live, MUTED, no audio, scripted
    latency_ms: float | None = None


MIC_STYLES = {"MUTED": "muted", "live": "live"}


class StatusBar(Static):
    """One (or, when narrow, two) lines at the top of the screen."""

    COMPONENT_CLASSES = {
        "status--connecting",
        "status--ready",
        "status--reconnecting",
        "status--closed",
        "status--label",
        "status--muted",
        "status--live",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = StatusView()

    def on_mount(self) -> None:
        self.show(self.view)

    def show(self, view: StatusView) -> None:
        """Render ``view``; cheap enough to call on every state change."""
        self.view = view
        self.update(self._render_view(view))

    def _style(self, name: str) -> str | object:
        return self.get_component_rich_style(f"status--{name}", partial=True)

    def _render_view(self, view: StatusView) -> Text:
        label = self._style("label")
        state = view.connection
        if state == "reconnecting" and view.reconnect_in_s is not None:
            state_text = f"reconnecting in {max(0.0, view.reconnect_in_s):.0f} s"
        else:
            state_text = state
        text = Text(no_wrap=False, overflow="ellipsis")
        text.append(f" ● {state_text} ", style=self._style(view.connection))  # type: ignore[arg-type]
        parts: list[tuple[str, str, str | None]] = [
            ("", view.host, None),
            ("", view.mode, None),
            ("session ", view.session_id or "–", None),
            ("voice ", view.voice or "–", None),
            ("mic ", view.mic, MIC_STYLES.get(view.mic)),
            (
                "v2v ",
                f"{view.latency_ms:.0f} ms" if view.latency_ms is not None else "–",
                None,
            ),
        ]
        for caption, value, style in parts:
            if not value:
                continue
            text.append("  ")
            if caption:
                text.append(caption, style=label)  # type: ignore[arg-type]
            text.append(value, style=self._style(style) if style else "")  # type: ignore[arg-type]
        return text
