"""--no-audio asks the service for text only: no agent audio is downloaded."""

from __future__ import annotations

from pathlib import Path

from tests.integration.session_helpers import running_session


def agent_texts(run) -> list[str]:
    return [t.text for t in run.session.conversation.turns if t.role == "agent" and t.final]


async def test_no_audio_session_gets_text_deltas_and_no_audio(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-audio") as run:
        await run.wait_until(lambda: len(agent_texts(run)) == 1)  # the greeting
        await run.session.send_text("what is the weather like")
        await run.wait_until(lambda: len(agent_texts(run)) == 2)
    record = emulator.connections[0]
    assert record.session["modalities"] == ["text"]
    assert "response.audio.delta" not in record.sent
    assert record.sent.count("response.text.delta") > 5
    assert "Hello!" in agent_texts(run)[0]
    assert "what is the weather like" in agent_texts(run)[1]
    assert "Agent Text Response:" in run.conversation_log()


async def test_audio_session_still_gets_speech(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path) as run:
        await run.wait_until(lambda: len(agent_texts(run)) == 1)
    record = emulator.connections[0]
    assert record.session["modalities"] == ["text", "audio"]
    assert "response.audio.delta" in record.sent
    assert "response.text.delta" not in record.sent
