"""The emulator's faults against the real client: junk frames, drops mid-response and in a
row, a slow server; replies cut by an outage or a late barge-in are logged in order with
what was heard (issue 10, defects 4 and 13)."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.helpers import wait_until
from tests.integration.session_helpers import running_session
from tests.reliability.badserver import bad_server
from tests.reliability.harness import (
    FAST_NET,
    Console,
    client_args,
    events,
    read_logs,
    received_types,
)
from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.emulator import Faults

JUNK = 1000


async def quit_console(console: Console) -> int:
    console.signal(signal.SIGINT)
    return await console.wait(10.0)


async def test_a_thousand_junk_frames_are_skipped_and_counted(
    emulator_factory, tmp_path: Path
) -> None:
    emu = await emulator_factory(faults=[f"junk-frames={JUNK}"])
    wav = str(tmp_path / "agent.wav")  # an audio reply (--no-audio asks for text only)
    console = await Console.start(*client_args(emu.endpoint, tmp_path, "--output-wav", wav))
    try:
        await wait_until(
            lambda: "response.done" in received_types(tmp_path), 20.0, "the greeting to end"
        )
        await wait_until(
            lambda: emu.connections[0].counts["junk_sent"] == JUNK, 10.0, "all junk sent"
        )
        assert await quit_console(console) == 0, console.err
    finally:
        await console.kill()
    record = emu.connections[0]
    assert len(emu.connections) == 1  # no frame ended the session
    unknown = received_types(tmp_path).count("emulator.unknown_event")
    skipped = [e for e in events(tmp_path) if "skipped" in e]
    assert unknown + len(skipped) == JUNK
    assert unknown > 0 and len(skipped) > 0
    assert f"Skipped {len(skipped)} frame(s) that were not server events" in console.out
    kinds = {e["skipped"].split(" (")[0] for e in skipped}
    assert kinds == {
        "not JSON",
        "JSON list, not an object",
        "JSON NoneType, not an object",
        "JSON str, not an object",
        "an object with no 'type'",
    }, kinds
    # Every real event was handled: all the server sent (but the junk) was received.
    real = [t for t in record.sent]
    assert [t for t in received_types(tmp_path) if t != "emulator.unknown_event"] == real
    assert "Agent Audio Response:" in read_logs(tmp_path)["conversation.log"]


async def test_a_json_array_frame_is_skipped_not_fatal(tmp_path: Path) -> None:
    async with bad_server("list") as srv:
        console = await Console.start(*client_args(srv.endpoint, tmp_path, "--no-audio"))
        try:
            await wait_until(
                lambda: any("skipped" in e for e in events(tmp_path)), 10.0, "a skipped frame"
            )
            assert await quit_console(console) == 0
        finally:
            await console.kill()
        assert srv.handshakes == 1  # the session went on
    skipped = [e for e in events(tmp_path) if "skipped" in e]
    assert skipped[0]["skipped"] == "JSON list, not an object"
    assert skipped[0]["frame"] == "[1, 2, 3]"
    assert "Skipped 1 frame(s)" in console.out


async def test_twenty_drops_in_a_row_then_the_server_heals(
    emulator_factory, tmp_path: Path
) -> None:
    emu = await emulator_factory(faults=["drop-after-events=2"])
    console = await Console.start(
        *client_args(emu.endpoint, tmp_path, "--no-audio", "--no-greeting"),
        "--retry-max",
        "0.05",
    )
    try:
        await wait_until(lambda: len(emu.connections) >= 20, 20.0, "20 dropped connections")
        emu.faults = Faults()
        await console.wait_output("Reconnected", timeout=10.0)
        await wait_until(lambda: not emu.connections[-1].closed, 5.0, "a connection that stays")
        assert "keeps closing the connection" in console.out
        assert await quit_console(console) == 0
    finally:
        await console.kill()
    log = read_logs(tmp_path)["conversation.log"]
    assert log.count("Connection lost:\t") == len(emu.connections) - 1
    assert "Traceback" not in console.err


async def test_a_slow_server_is_not_taken_for_a_dead_one(emulator_factory, tmp_path: Path):
    emu = await emulator_factory(faults=["delay-ms=300"])
    console = await Console.start(*client_args(emu.endpoint, tmp_path, "--no-audio", *FAST_NET))
    try:
        # Five events at 300 ms each: three heartbeats of 0.5 s went by.
        await wait_until(lambda: len(received_types(tmp_path)) >= 5, 15.0, "five slow events")
        assert len(emu.connections) == 1
        assert await quit_console(console) == 0
    finally:
        await console.kill()
    assert "Connection lost" not in read_logs(tmp_path)["conversation.log"]


async def test_a_reply_cut_by_an_outage_is_marked_and_kept_in_order(
    emulator_factory, tmp_path: Path
) -> None:
    emu = await emulator_factory(faults=["drop-mid-response"], speed=1.0)
    async with running_session(emu.endpoint, tmp_path) as run:
        conv = run.session.conversation

        def heal(update) -> None:
            if conv.connection == ConnectionState.RECONNECTING:
                emu.faults = Faults()

        run.session.subscribe(heal)
        await run.wait_until(lambda: conv.outages == 1)
        await run.wait_until(lambda: conv.connection == ConnectionState.READY)
        await run.session.send_text("Are you back?")
        await run.wait_until(lambda: conv.answered_user_turns == 1)
    log = run.conversation_log()
    cut = log.index(" [interrupted: connection lost]")
    assert log.count("[interrupted: connection lost]") == 1, log
    assert cut < log.index("Connection lost:\t") < log.index("User Input:\tAre you back?"), log
    assert log.rindex("Agent ") > log.index("User Input:"), log


async def test_a_barge_in_during_playback_after_response_done_cuts_the_logged_line(
    emulator, tmp_path: Path
) -> None:
    audio = WavBackend(None, tmp_path / "agent.wav")  # plays in real time
    async with running_session(emulator.endpoint, tmp_path, audio=audio) as run:
        conv = run.session.conversation

        def playing_after_done() -> bool:
            turns = [t for t in conv.turns if t.role == "agent" and t.item_id]
            return (
                bool(turns)
                and turns[-1].status == "completed"
                and run.session.audio.played_ms(turns[-1].item_id or "") >= 500
                and run.session.audio.pending_ms() > 500
            )

        await run.wait_until(playing_after_done)
        full = next(t for t in conv.turns if t.role == "agent").text
        await run.session.interrupt()
        turn = next(t for t in conv.turns if t.role == "agent")
        assert turn.interrupted and turn.text != full
    log = run.conversation_log()
    line = next(x for x in log.splitlines() if x.startswith("Agent Audio Response:"))
    assert "[interrupted at " in line, log
    assert full not in line, log
