"""Word-accurate barge-in: the client asks for word timestamps, and an interrupted reply is
cut at the last word whose audio had started playing, on screen, in the log and in the
service's own (truncated) transcript alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.session_helpers import running_session
from voicelive_tui.audio.backends import WavBackend

SPEED = 4.0


def agent_turns(run) -> list:
    return [t for t in run.session.conversation.turns if t.role == "agent" and t.item_id]


@pytest.mark.parametrize("voice", ["en-US-Ava:DragonHDLatestNeural", "alloy"])
async def test_barge_in_cuts_at_the_heard_word(emulator_factory, tmp_path: Path, voice) -> None:
    emu = await emulator_factory(speed=SPEED)
    audio = WavBackend(None, tmp_path / "out.wav", speed=SPEED)
    async with running_session(emu.endpoint, tmp_path, "--voice", voice, audio=audio) as run:
        await run.wait_until(lambda: agent_turns(run) and agent_turns(run)[0].item_id)
        turn = agent_turns(run)[0]
        item = turn.item_id or ""
        await run.wait_until(lambda: audio.played_ms(item) >= 1300)  # mid-sentence
        await run.session.interrupt()
        heard = audio.played_ms(item)
        record = emu.connections[0]
        await run.wait_until(lambda: record.last_truncate is not None)
    assert record.last_truncate["audio_end_ms"] == heard
    stored = record.conversation.find(item)
    log = run.conversation_log()
    if voice == "alloy":  # no word timestamps for OpenAI voices: the cut is an estimate
        assert turn.words == [] and turn.cut_estimated
        assert f"[interrupted at {heard / 1000:.1f} s, estimated]" in log
        return
    started = [w for w in turn.words if w[0] < heard]
    assert len(started) >= 3 and turn.text.startswith("Hello! This is")
    assert "emulator" not in turn.text  # cut mid-sentence
    assert not turn.cut_estimated
    # The words the user heard start (none cut mid-word, none added), and the service
    # keeps the same transcript after the truncate the client sent.
    assert turn.text.split() == stored.text.split()
    assert [w.strip("!.,?") for w in turn.text.split()] == [w[2] for w in started]
    assert f"Agent Audio Response:\t{turn.text} [interrupted at {heard / 1000:.1f} s]" in log
