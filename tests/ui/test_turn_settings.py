"""The turn-taking settings screen (o) against the emulator: an edit is sent live as
session.update, the service's echo shows beside the field, and a value it refuses shows its
error there instead; the palette switches push to talk."""

from __future__ import annotations

from textual.widgets import Input, Static

from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.ui.widgets.turn_settings import TurnSettingsScreen

from .conftest import SIZE, wait_for


def note(app, name: str) -> str:
    return str(app.screen.query_one(f"#turn-note-{name}", Static).render())


async def edit(pilot, name: str, value: str) -> None:
    field = pilot.app.screen.query_one(f"#turn-{name}", Input)
    field.focus()
    field.value = value
    await pilot.press("enter")


async def test_edits_are_sent_live_and_show_the_echo_or_the_error(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=(100, 30)) as pilot:
        app = dash.app
        ready = lambda: app.session and app.session.conversation.connection == ConnectionState.READY  # noqa: E731
        await wait_for(pilot, ready)
        await pilot.press("o")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, TurnSettingsScreen)
                and app.screen.query("#turn-note-silence_ms")
            ),
        )
        await wait_for(pilot, lambda: note(app, "silence_ms") == "500")
        await edit(pilot, "silence_ms", "20000")
        await wait_for(pilot, lambda: "refused" in note(app, "silence_ms"), what="the error")
        assert "silence_duration_ms must be an integer from 0 to 10000" in note(app, "silence_ms")
        assert note(app, "threshold") == "0.5"  # the other fields keep their echo
        await edit(pilot, "silence_ms", "900")
        await wait_for(pilot, lambda: note(app, "silence_ms") == "900", what="the echo")
        await edit(pilot, "detector", "azure_semantic_vad_en")
        await edit(pilot, "eou", "high")
        await wait_for(pilot, lambda: note(app, "eou") == "high")
        assert note(app, "detector") == "azure_semantic_vad_en"
        await edit(pilot, "threshold", "loud")  # not a number: never sent
        await wait_for(pilot, lambda: "not sent" in note(app, "threshold"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TurnSettingsScreen))
    td = emulator.latest.session["turn_detection"]
    assert td["type"] == "azure_semantic_vad_en"
    assert td["silence_duration_ms"] == 900
    assert td["end_of_utterance_detection"]["threshold_level"] == "high"
    assert len(emulator.connections) == 1
    assert emulator.latest.counts["session.update"] == 5  # start, 20000, 900, type, eou


async def test_the_palette_switches_push_to_talk_live(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(
            pilot,
            lambda: app.session and app.session.conversation.connection == ConnectionState.READY,
        )
        await pilot.press("ctrl+p")
        await pilot.press(*"push to talk on")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: emulator.latest.session["turn_detection"] is None, what="VAD off"
        )
        assert app.session.conversation.push_to_talk
