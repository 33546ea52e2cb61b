"""Themes (issue 27): --theme, kept between runs; snapshots per theme at 160x48; and the
dashboard's text alone, colours stripped, still tells the voice activity state, who is
speaking and how much each notice matters."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from tests.scaffold.replay import scripted_app, settle
from tests.ui.conftest import wait_for
from voicelive_tui.config import build_parser, settings_from_args
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.messages import SessionNotice
from voicelive_tui.updates import Severity

THEMES = ("textual-dark", "textual-light", "ansi-dark", "ansi-light", "high-contrast")


@pytest.mark.parametrize("theme", THEMES)
def test_theme_160x48(snap_compare, tmp_path: Path, theme: str):
    assert snap_compare(
        scripted_app(tmp_path, theme=theme), terminal_size=(160, 48), run_before=settle
    )


def screen_text(app: VoiceLiveApp) -> str:
    """What the screen says, with every colour and style gone: the SVG's text, by row."""
    svg = app.export_screenshot()
    rows: dict[float, list[str]] = {}
    for y, text in re.findall(r'<text[^>]* y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(float(y), []).append(unescape(text).replace("\xa0", " "))
    return "\n".join("".join(parts) for _, parts in sorted(rows.items()))


async def test_the_text_alone_tells_state_speaker_and_severity(tmp_path: Path):
    app = scripted_app(tmp_path, theme="high-contrast")
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await settle(pilot)
        app.post_message(SessionNotice("The socket closed", Severity.ERROR))
        app.post_message(SessionNotice("Rate limit low", Severity.WARNING))
        app.post_message(SessionNotice("Conversation saved", Severity.INFORMATION))
        await wait_for(pilot, lambda: len(app.screen.query("Toast")) == 3, what="three toasts")
        await pilot.pause()
        text = screen_text(app)
        vad = app.levels_panel.vad.label
    assert f"● {vad}" in text  # the voice activity state in words
    assert re.search(r"\d\d:\d\d:\d\d\s+You\b", text) and re.search(
        r"\d\d:\d\d:\d\d\s+Agent\b", text
    )
    for severity, message in (
        ("Error", "socket closed"),
        ("Warning", "Rate limit"),
        ("Notice", "saved"),
    ):
        assert severity in text and message in text, text
    assert "ready" in text  # the connection state


async def test_the_theme_is_kept_for_the_next_run(tmp_path: Path):
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    kept = tmp_path / "config" / "voicelive-tui" / "preferences.json"

    def settings(*argv: str):
        args = ["--demo", "--log-dir", str(tmp_path / "logs"), *argv]
        return settings_from_args(build_parser().parse_args(args), environ)

    assert settings().theme is None and not kept.exists()
    app = scripted_app(tmp_path, **_theme_fields(settings("--theme", "light")))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-light"
        assert json.loads(kept.read_text()) == {"theme": "textual-light"}
        app.theme = "ansi-dark"  # as the palette's "Change theme" does
        await pilot.pause()
        await pilot.pause()
    assert json.loads(kept.read_text()) == {"theme": "ansi-dark"}
    assert settings().theme == "ansi-dark"  # the next run, without --theme


def _theme_fields(settings) -> dict:
    return {k: getattr(settings, k) for k in ("theme", "theme_given", "preferences_file")}
