"""The dashboard against the in-process emulator, driven with keys as a user would."""

from __future__ import annotations

from typing import Any

from textual.command import CommandList

from voicelive_tui.audio.backends import NullBackend
from voicelive_tui.config import Settings
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.session.auth import AuthError
from voicelive_tui.sources import endpoint_source
from voicelive_tui.ui.app import VoiceLiveApp
from voicelive_tui.ui.view import StatusView, VadView
from voicelive_tui.ui.widgets.conversation import TurnView
from voicelive_tui.ui.widgets.levels import VadIndicator

from .conftest import SIZE, wait_for, wait_for_spoken_answer

SLOW = 2.0
"""Emulator speed for tests that act while a reply is still streaming (with ``realtime``
pacing)."""


def turn_texts(app) -> list[str]:
    return [str(view.content) for view in app.conversation_panel.query(TurnView)]


def event_types(app) -> list[str]:
    return [entry.type for entry in app.event_log.buffer.entries]


def offered(app, text: str) -> bool:
    """True when the open command palette lists ``text`` (highlighted first)."""
    lists = app.screen.query(CommandList)
    return bool(lists) and any(
        text in str(lists.first().get_option_at_index(i).prompt)
        for i in range(lists.first().option_count)
    )


def prompts(app) -> list[str]:
    """What the open command palette lists, in order."""
    lists = app.screen.query(CommandList)
    if not lists:
        return []
    first = lists.first()
    return [str(first.get_option_at_index(i).prompt) for i in range(first.option_count)]


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(item == s for s in it) for item in wanted)


async def test_greeting_appears_with_its_events(emulator, dashboard):
    dash = dashboard(emulator)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(
            pilot,
            lambda: (
                any("Hello!" in t and "Agent" in t for t in turn_texts(app))
                and "response.done" in event_types(app)
            ),
            what="the greeting",
        )
        types = event_types(app)
        assert is_subsequence(
            [
                "session.update",
                "session.created",
                "session.updated",
                "response.create",
                "response.created",
                "response.audio.delta",
                "response.done",
            ],
            types,
        )
        # Audio deltas fold into one updating line.
        deltas = [e for e in app.event_log.buffer.entries if e.type == "response.audio.delta"]
        assert len(deltas) == 1 and deltas[0].count > 1 and "s" in deltas[0].text
        assert app.status_bar.view.connection == "ready"
        assert app.status_bar.view.host == "127.0.0.1"
        # The socket's round trip, from the kernel's TCP_INFO (loopback: well under 50 ms).
        await wait_for(pilot, lambda: app.status_bar.view.rtt_ms is not None, what="the rtt")
        assert 0 <= (app.status_bar.view.rtt_ms or 0) < 50
        assert "test-key" not in app.export_screenshot()


async def test_spoken_turn_shows_user_reply_vad_states_and_latency(
    emulator_factory, dashboard, speech_wav
):
    emu = await emulator_factory(speed=SLOW, pacing="realtime")
    dash = dashboard(emu, input_wav=speech_wav, speed=4.0, greeting=False)
    seen: list[str] = []
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        vad = app.levels_panel.query_one(VadIndicator)

        def record(view: VadView) -> None:
            if not seen or seen[-1] != view.label:
                seen.append(view.label)

        vad.watch(vad, "vad", record)
        await wait_for_spoken_answer(pilot, dash)
        await wait_for(pilot, lambda: seen and seen[-1] == "listening", what="back to listening")
        texts = turn_texts(app)
        assert any("You" in t for t in texts)
        assert any("I heard" in t for t in texts)
        assert is_subsequence(
            ["listening", "you are speaking", "thinking", "agent speaking", "listening"], seen
        ), seen
        assert app.status_bar.view.latency_ms is not None
        assert "v2v" in app.status_bar.render().plain  # type: ignore[union-attr]
        await wait_for(
            pilot,
            lambda: is_subsequence(
                [
                    "input_audio_buffer.speech_started",
                    "input_audio_buffer.speech_stopped",
                    "response.created",
                    "response.done",
                ],
                event_types(app),
            ),
            what="the turn's events in the event stream",
        )


async def test_m_mutes_the_microphone(emulator, dashboard, speech_wav):
    dash = dashboard(emulator, input_wav=speech_wav, speed=4.0, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app

        def appends() -> int:
            record = emulator.latest
            return record.counts["input_audio_buffer.append"] if record else 0

        await wait_for(pilot, lambda: appends() > 5, what="appends")
        await pilot.press("m")
        assert app.status_bar.view.mic == "MUTED"
        vad = app.levels_panel.query_one(VadIndicator)
        assert vad.vad.label == "muted" and vad.render().endswith("muted")
        ticks = dash.audio.blocks_ticked
        await wait_for(pilot, lambda: dash.audio.blocks_ticked > ticks + 5, what="audio clock")
        muted_count = appends()  # anything in flight has landed by now
        ticks = dash.audio.blocks_ticked
        await wait_for(pilot, lambda: dash.audio.blocks_ticked > ticks + 50, what="audio clock")
        assert appends() == muted_count
        await pilot.press("m")
        assert app.status_bar.view.mic == "live"
        await wait_for(pilot, lambda: appends() > muted_count, what="appends again")


async def test_space_interrupts_a_reply(emulator_factory, dashboard):
    emu = await emulator_factory(speed=1.0)
    dash = dashboard(emu, speed=1.0)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app

        def playing_a_while() -> bool:
            session = app.session
            if session is None or not session.conversation.response_active:
                return False
            turn = session.conversation.current_agent_turn()
            return bool(turn and turn.item_id and dash.audio.played_ms(turn.item_id) > 400)

        await wait_for(pilot, playing_a_while, what="the greeting playing")
        await pilot.press("space")
        await wait_for(
            pilot,
            lambda: (
                emu.latest.counts["response.cancel"] >= 1
                and emu.latest.counts["conversation.item.truncate"] >= 1
            ),
            what="cancel and truncate at the emulator",
        )
        await wait_for(pilot, lambda: any("interrupted at" in t for t in turn_texts(app)))
        turn = next(t for t in app.session.conversation.turns if t.role == "agent")
        assert turn.interrupted and 0 < (turn.heard_ms or 0) < turn.audio_ms

        def sent() -> list[str]:
            return [e.type for e in app.event_log.buffer.entries if e.direction == "sent"]

        await wait_for(
            pilot,
            lambda: "response.cancel" in sent() and "conversation.item.truncate" in sent(),
            what=f"cancel and truncate in the event stream, saw {sent()}",
        )


async def test_t_sends_a_text_message(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("t")
        assert app.message_input.display and app.message_input.has_focus
        await pilot.press(*"hello dashboard", "enter")
        assert not app.message_input.display
        await wait_for(
            pilot,
            lambda: any('You said: "hello dashboard"' in t for t in turn_texts(app)),
            what="the agent's text-message reply",
        )
        # Streamed into an item (API 2026-07-15), not created whole.
        assert emulator.latest.counts["input_text.done"] == 1
        assert emulator.latest.counts["conversation.item.create"] == 0
        assert any("(typed)" in t and "hello dashboard" in t for t in turn_texts(app))


async def test_slash_filters_events(emulator, dashboard):
    dash = dashboard(emulator)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: "response.done" in event_types(app), what="the greeting")
        await pilot.press("slash")
        assert app.filter_input.has_focus
        await pilot.press(*"response.done")
        view = list(app.event_log.buffer.view)
        assert view and all(e.type == "response.done" for e in view)
        assert len(app.event_log.buffer.entries) > len(view)
        assert "filter 'response.done'" in app.event_log.border_subtitle
        await pilot.press("enter")
        assert app.event_log.has_focus
        await pilot.press("enter")  # the JSON of the selected line
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "JsonScreen")
        await pilot.press("escape")
        await pilot.press("slash", "escape")
        assert len(app.event_log.buffer.view) == len(app.event_log.buffer.entries)
        await pilot.press("p")
        assert app.event_log.paused and "PAUSED" in app.event_log.border_subtitle
        await pilot.press("c")
        assert not app.event_log.buffer.entries


async def test_q_quits_with_logs_flushed(emulator, dashboard):
    dash = dashboard(emulator)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: "response.done" in event_types(app), what="the greeting")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 0 and app.failure is None
    assert emulator.latest.closed
    logs = dash.settings.log_dir
    conversation = next(logs.glob("*_conversation.log")).read_text()
    events = next(logs.glob("*_events.jsonl")).read_text()
    assert "Agent Audio Response:\tHello!" in conversation
    assert '"response.done"' in events


async def test_dropped_socket_shows_reconnecting_then_ready(emulator_factory, dashboard):
    emu = await emulator_factory(faults=["drop-mid-response"])
    dash = dashboard(emu)
    states: list[str] = []
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app

        def record(view: StatusView) -> None:
            if not states or states[-1] != view.connection:
                states.append(view.connection)

        app.status_bar.watch(app.status_bar, "view", record)
        await wait_for(
            pilot,
            lambda: is_subsequence(["ready", "reconnecting", "ready"], states),
            what=f"reconnecting then ready, saw {states}",
        )
        assert app.session.conversation.connection == ConnectionState.READY
        assert any("Connection lost" in t for t in turn_texts(app))


async def test_rejected_credentials_end_the_app_with_exit_code_3(emulator_factory, dashboard):
    emu = await emulator_factory(faults=["reject-auth"])
    dash = dashboard(emu)
    async with dash.app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not dash.app.is_running, what="the app to exit")
    assert isinstance(dash.app.failure, AuthError)
    assert dash.app.return_code == 3
    assert "test-key" not in str(dash.app.failure)


async def test_command_palette_changes_the_voice_live(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("ctrl+p")
        await pilot.press(*"voice alloy")
        await wait_for(
            pilot,
            lambda: offered(app, "Set voice to alloy"),
            what="the palette to offer the voice",
        )
        await pilot.pause(0.3)  # every provider has answered
        assert sum("Set voice to alloy" in p for p in prompts(app)) == 1, prompts(app)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: emulator.latest.counts["session.update"] == 2,
            what="a second session.update",
        )
        await wait_for(pilot, lambda: app.status_bar.view.voice == "alloy", what="the new voice")


async def test_command_palette_sets_noise_reduction_and_refuses_a_reference_it_cannot_give(
    emulator, dashboard
):
    """Noise reduction live (a session.update); the client echo reference without sound
    devices: a warning, no renewal."""
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("ctrl+p")
        await pilot.press(*"noise far")
        await wait_for(
            pilot, lambda: offered(app, "Set noise reduction to far_field"), what="the offer"
        )
        await pilot.pause(0.3)
        await pilot.press("enter")
        record = emulator.latest
        await wait_for(
            pilot,
            lambda: (
                (record.session.get("input_audio_noise_reduction") or {}).get("type") == "far_field"
            ),
            what="far_field noise reduction in the emulator's session",
        )
        await pilot.press("ctrl+p")
        await pilot.press(*"echo reference client")
        await wait_for(
            pilot, lambda: offered(app, "Set echo reference to client"), what="the offer"
        )
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any("needs a microphone" in n.message for n in app._notifications),
            what="the warning that the client reference needs sound devices",
        )
        assert app.session.conversation.renewals == []
        assert len(emulator.connections) == 1


async def test_command_palette_offers_each_key_action_once(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: offered(app, "Interrupt"), what="the palette")
        await pilot.pause(0.3)
        shown = [p.splitlines()[0] for p in prompts(app)]
        for name in ("Mute", "Interrupt", "Type", "Filter", "Reconnect", "Quit", "Help"):
            assert shown.count(name) == 1, shown


async def test_agent_mode_shows_the_conversation_id_to_resume(emulator, dashboard):
    dash = dashboard(emulator, agent_name="helper", project_name="proj", greeting=False)
    async with dash.app.run_test(size=(160, 40)) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready", what="ready")
        await app.session.send_text("Hello agent")
        await wait_for(pilot, lambda: app.status_bar.view.conversation_id, what="conversation id")
        conversation_id = app.status_bar.view.conversation_id
        assert conversation_id == emulator.connections[0].conversation.id
        assert f"conversation {conversation_id}" in app.status_bar.render().plain
        assert "agent helper" in app.status_bar.render().plain


async def test_a_terminal_too_small_shows_a_notice_and_the_session_goes_on(emulator, dashboard):
    dash = dashboard(emulator)
    async with dash.app.run_test(size=(40, 12)) as pilot:
        app = dash.app
        notice = app.screen.query_one("#too-small")
        panels = app.screen.query_one("#panels")
        await wait_for(pilot, lambda: "response.done" in event_types(app), what="the greeting")
        assert notice.display and not panels.display
        assert "Terminal too small: 40x12" in str(notice.render())
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: panels.display and not notice.display, what="the panels")
        assert any("Hello!" in t for t in turn_texts(app))


async def test_l_shows_latency_by_stage_and_e_saves_the_conversation(emulator, dashboard):
    dash = dashboard(emulator, greeting=False)
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("t", *"what time is it", "enter")
        conv = app.session.conversation
        await wait_for(
            pilot,
            lambda: any(t.latency_ms is not None for t in conv.turns),
            what="the typed turn's latency",
        )
        # The turn's header is drawn at the next refresh after the latency is known.
        shown_total = f"· {conv.latencies[0].total_ms / 1000:.2f} s"
        await wait_for(
            pilot,
            lambda: any("You said" in t and shown_total in t for t in turn_texts(app)),
            what="the latency in the turn's header",
        )
        await pilot.press("l")
        await wait_for(
            pilot,
            lambda: (
                app.screen.__class__.__name__ == "LatencyScreen"
                and app.screen.query("#latency-lines")
            ),
        )
        shown = str(app.screen.query_one("#latency-lines").render())
        assert "#1  typed" in shown and "worst #1: first output:" in shown
        assert next(line for line in shown.splitlines() if line.startswith("typed ")).split()[
            1:3
        ] == [
            "p50",
            f"{conv.latencies[0].total_ms / 1000:.2f}s",
        ]
        await pilot.press("escape")
        await wait_for(pilot, lambda: conv.usage.responses, what="the answer's usage")
        await pilot.press("u")
        await wait_for(
            pilot,
            lambda: (
                app.screen.__class__.__name__ == "UsageScreen" and app.screen.query("#usage-lines")
            ),
        )
        shown = str(app.screen.query_one("#usage-lines").render())
        assert f"session {conv.usage.total.total_tokens} tokens" in shown
        assert "(estimate, pro tier, placeholder prices)" in shown
        assert app.status_bar.view.usage is not None
        await pilot.press("escape")
        await pilot.press("e")
        await wait_for(pilot, lambda: list(dash.settings.log_dir.glob("*_conversation.md")))
        (saved,) = dash.settings.log_dir.glob("*_conversation.md")
        text = saved.read_text()
        assert "what time is it" in text and "> latency " in text and "> usage " in text
        assert "test-key" not in text


async def test_a_text_only_backend_says_why_once(emulator, tmp_path):
    """A null backend that carries its reason: one toast, not one from the session's
    start and another from the audio start."""
    reason = "text only: no sound server answers here"
    settings = Settings(endpoint=emulator.endpoint, api_key="test-key", log_dir=tmp_path)
    app = VoiceLiveApp(settings, source=endpoint_source(audio=NullBackend(notice=reason)))
    shown: list[str] = []
    notify = app.notify

    def counting(message: str, **kwargs: Any) -> None:
        shown.append(message)
        notify(message, **kwargs)

    app.notify = counting  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "response.done" in event_types(app), what="the greeting")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert shown.count(reason) == 1, shown
