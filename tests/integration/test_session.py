"""The session core against the emulator, with the real SDK: greeting, turns, barge-in,
mute, text, malformed frames, reconnects."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from tests.helpers import silence_wav, write_wav
from tests.integration.session_helpers import running_session
from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.emulator.faults import Faults

SPEED = 4.0


def agent_turns(run) -> list:
    return [t for t in run.session.conversation.turns if t.role == "agent"]


async def test_greeting_arrives_and_is_logged(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path) as run:
        await run.wait_until(lambda: any(t.final and t.text for t in agent_turns(run)))
        greeting = agent_turns(run)[0]
        assert "emulator" in greeting.text.lower()
        conv = run.session.conversation
        assert conv.connection == ConnectionState.READY
        assert conv.session.id and conv.session.id.startswith("sess_")
        await run.wait_until(lambda: "Agent Audio Response:" in run.conversation_log())
        log = run.conversation_log()
        assert log.startswith(f"SessionID: {conv.session.id}\n")
        assert f"Agent Audio Response:\t{greeting.text}" in log
    # The greeting is a response, not an answer to a user turn.
    assert run.session.conversation.answered_user_turns == 0


async def test_no_greeting_sends_no_response_create(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting") as run:
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
        await run.session.send_text("ping")
        await run.wait_until(lambda: any(t.final and t.text for t in agent_turns(run)))
    sent = emulator.connections[0].counts
    assert sent["response.create"] == 1  # only the one for the text message


async def test_session_config_is_the_seeds(emulator, tmp_path: Path) -> None:
    async with running_session(
        emulator.endpoint, tmp_path, "--voice", "alloy", "--vad-threshold", "0.3"
    ) as run:
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
    session = emulator.connections[0].session
    assert session["voice"] == "alloy"
    assert session["modalities"] == ["text", "audio"]
    assert session["input_audio_format"] == "pcm16"
    assert session["turn_detection"]["type"] == "server_vad"
    assert session["turn_detection"]["threshold"] == 0.3
    assert session["input_audio_echo_cancellation"]["type"] == "server_echo_cancellation"
    assert session["input_audio_noise_reduction"]["type"] == "azure_deep_noise_suppression"


async def test_interrupt_cancels_and_truncates_at_what_was_played(
    emulator_factory, tmp_path: Path
) -> None:
    emu = await emulator_factory(speed=SPEED)
    audio = WavBackend(None, tmp_path / "out.wav", speed=SPEED)
    async with running_session(emu.endpoint, tmp_path, audio=audio) as run:
        await run.wait_until(lambda: agent_turns(run) and agent_turns(run)[0].item_id)
        item = agent_turns(run)[0].item_id
        await run.wait_until(lambda: audio.played_ms(item) >= 600)
        await run.session.interrupt()
        heard = audio.played_ms(item)
        record = emu.connections[0]
        await run.wait_until(lambda: record.last_truncate is not None)
        assert record.counts["response.cancel"] == 1
        assert record.last_truncate["item_id"] == item
        assert record.last_truncate["audio_end_ms"] == heard
        # Nothing more of that item is played once the epoch was bumped.
        ticks = audio.blocks_ticked
        await run.wait_until(lambda: audio.blocks_ticked >= ticks + 25)
        assert audio.played_ms(item) == heard
        turn = agent_turns(run)[0]
        assert turn.interrupted and turn.heard_ms == heard
        assert len(turn.text) < len("Hello! This is the local Voice Live emulator")
    assert "[interrupted at" in run.conversation_log()


async def test_speech_over_the_greeting_barges_in(emulator_factory, speech_turn, tmp_path) -> None:
    emu = await emulator_factory(speed=SPEED)
    turn = speech_turn(lead_ms=1200, tail_ms=1500)
    mic = tmp_path / "mic.wav"
    write_wav(mic, turn.pcm)
    audio = WavBackend(mic, tmp_path / "out.wav", speed=SPEED)
    async with running_session(emu.endpoint, tmp_path, audio=audio) as run:
        await run.wait_until(lambda: emu.connections and emu.connections[0].last_truncate)
        truncate = emu.connections[0].last_truncate
        greeting = agent_turns(run)[0]
        assert truncate["item_id"] == greeting.item_id
        assert truncate["audio_end_ms"] == audio.played_ms(greeting.item_id)
        assert 200 <= truncate["audio_end_ms"] <= 1500
        assert greeting.interrupted
        # The user's turn then gets its own answer.
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1, 30)
        # A cancel racing the server's own barge-in is benign: not shown to the user.
        assert not [n for n in run.notices() if "no active response" in n.lower()]
        assert not run.session.conversation.errors


async def test_mute_stops_appends(emulator, tmp_path: Path) -> None:
    audio = WavBackend(silence_wav(tmp_path / "quiet.wav", 1.0), None, speed=SPEED)
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting", audio=audio) as run:
        record = lambda: emulator.connections[0]  # noqa: E731
        await run.wait_until(
            lambda: emulator.connections and record().counts["input_audio_buffer.append"] >= 10
        )
        run.session.set_muted(True)
        sent_at_mute = run.session.conversation.sent["input_audio_buffer.append"]
        ticks = audio.blocks_ticked
        await run.wait_until(lambda: audio.blocks_ticked >= ticks + 50)
        await run.wait_until(lambda: record().counts["input_audio_buffer.append"] >= sent_at_mute)
        assert run.session.conversation.sent["input_audio_buffer.append"] == sent_at_mute
        assert record().counts["input_audio_buffer.append"] == sent_at_mute
        run.session.set_muted(False)
        await run.wait_until(
            lambda: record().counts["input_audio_buffer.append"] >= sent_at_mute + 10
        )


async def test_text_turn(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting") as run:
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
        await run.session.send_text("What can you do?")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1)
        reply = agent_turns(run)[-1]
        assert "What can you do?" in reply.text
        log = run.conversation_log()
        assert "User Input:\tWhat can you do?\n" in log
        assert f"Agent Audio Response:\t{reply.text}\n" in log


async def test_malformed_frame_is_skipped(emulator_factory, tmp_path: Path) -> None:
    emu = await emulator_factory(faults=["malformed-frame", "unknown-events"])
    async with running_session(emu.endpoint, tmp_path) as run:
        await run.wait_until(lambda: any(t.final and t.text for t in agent_turns(run)))
        assert run.session.conversation.received["<malformed>"] == 1
        assert any("not server events: not JSON" in n for n in run.notices())
        assert run.session.conversation.outages == 0
        assert len(emu.connections) == 1


async def test_dropped_socket_reconnects_and_keeps_the_log(emulator_factory, tmp_path) -> None:
    emu = await emulator_factory(faults=["drop-mid-response"])
    async with running_session(emu.endpoint, tmp_path) as run:

        def heal(update) -> None:
            if run.session.conversation.connection == ConnectionState.RECONNECTING:
                emu.faults = Faults()

        run.session.subscribe(heal)
        await run.wait_until(lambda: run.session.conversation.outages == 1)
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
        assert len(emu.connections) == 2
        await run.session.send_text("Are you back?")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1)
        log = run.conversation_log()
    assert log.count("SessionID: ") == 2
    lost = log.index("Connection lost:")
    assert log.index("User Input:\tAre you back?") > lost
    assert "Are you back?" in agent_turns(run)[-1].text
    assert any(
        t.kind == "notice" and "Connection lost" in t.text for t in run.session.conversation.turns
    )


async def test_agent_reconnect_resumes_the_conversation(emulator_factory, tmp_path) -> None:
    emu = await emulator_factory()
    argv = ("--agent-name", "helper", "--project-name", "proj", "--no-greeting")
    async with running_session(emu.endpoint, tmp_path, *argv) as run:
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
        await run.session.send_text("Remember the word pineapple.")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1)
        conversation_id = run.session.conversation.session.conversation_id
        assert conversation_id
        run.session.reconnect()
        await run.wait_until(lambda: len(emu.connections) == 2)
        await run.wait_until(lambda: run.session.conversation.connection == ConnectionState.READY)
        assert emu.connections[1].query.get("conversation-id") == conversation_id
        await run.session.send_text("What did I ask you to remember?")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 2)
        assert "pineapple" in agent_turns(run)[-1].text.lower()


def rms_dbfs(path: Path) -> float:
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
    return 10 * np.log10(np.mean(x**2) + 1e-12)


async def test_typing_over_the_agent_interrupts_it(emulator_factory, tmp_path: Path) -> None:
    emu = await emulator_factory(speed=SPEED)
    audio = WavBackend(None, tmp_path / "out.wav", speed=SPEED)
    async with running_session(emu.endpoint, tmp_path, audio=audio) as run:
        await run.wait_until(
            lambda: agent_turns(run) and audio.played_ms(agent_turns(run)[0].item_id) > 200
        )
        await run.session.send_text("Stop and listen.")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1)
        assert agent_turns(run)[0].interrupted
        assert "Stop and listen." in agent_turns(run)[-1].text
        assert emu.connections[0].counts["response.cancel"] == 1
        assert not run.session.conversation.errors  # no "active response" conflict
        log = run.conversation_log()
        # The cut-off greeting is logged where the user cut it, before what they typed.
        assert log.index("[interrupted at") < log.index("User Input:\tStop and listen.")
