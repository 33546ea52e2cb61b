"""Turn taking from flags and live, with the real SDK and session against the emulator:
what is asked reaches ``session.update``, comes back in ``session.updated``, and a value the
service refuses is shown with the service's own error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.session_helpers import running_session
from voicelive_tui.config.turns import turn_detection_wire
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.session import SessionOverrides

FLAGS = [
    ("--turn-detection", "server_vad", "--vad-silence-ms", "700", "--eou", "medium"),
    (
        "--turn-detection", "azure_semantic_vad", "--vad-speech-ms", "120",
        "--remove-filler-words", "on",
    ),
    ("--turn-detection", "azure_semantic_vad_en", "--eou", "high", "--eou-timeout-ms", "2000"),
    (
        "--turn-detection", "azure_semantic_vad_multilingual", "--vad-languages", "en-US",
        "--vad-languages", "fr-FR", "--eou", "low",
    ),
    ("--interrupt-response", "off", "--create-response", "off", "--auto-truncate", "on"),
    ("--vad-threshold", "0.7", "--vad-prefix-ms", "150"),
]  # fmt: skip


def ready(run) -> bool:
    return run.session.conversation.connection == ConnectionState.READY


@pytest.mark.parametrize("argv", FLAGS, ids=lambda a: "_".join(a[:2]))
async def test_every_detector_and_parameter_reaches_the_service_and_is_echoed(
    emulator, tmp_path: Path, argv
) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting", *argv) as run:
        await run.wait_until(lambda: ready(run))
        asked = turn_detection_wire(run.session.settings.turn_taking)
        echoed = run.session.conversation.session.turn_config["turn_detection"]
    assert asked is not None
    # Every value asked for is in what the service now runs with, and in its echo.
    assert {k: v for k, v in echoed.items() if k in asked} == asked
    assert emulator.latest.session["turn_detection"] == echoed


async def test_push_to_talk_none_noise_and_transcription_reach_the_service(
    emulator, tmp_path: Path
) -> None:
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("Contoso\n# a comment\nVoice Live\n", encoding="utf-8")
    argv = (
        "--turn-detection", "none", "--noise-reduction", "far_field",
        "--transcription-model", "gpt-4o-transcribe", "--transcription-language", "en-US",
        "--phrase-list", str(phrases),
    )  # fmt: skip
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting", *argv) as run:
        await run.wait_until(lambda: ready(run))
        echoed = run.session.conversation.session.turn_config
    assert echoed["turn_detection"] is None
    assert echoed["input_audio_noise_reduction"] == {"type": "far_field"}
    assert echoed["input_audio_transcription"] == {
        "model": "gpt-4o-transcribe",
        "language": "en-US",
        "phrase_list": ["Contoso", "Voice Live"],
    }


async def test_live_edit_applies_mid_session_without_a_reconnect(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting") as run:
        await run.wait_until(lambda: ready(run))
        conv = run.session.conversation
        turns = run.session.settings.turn_taking.changed(
            detector="azure_semantic_vad_en", eou="high", eou_timeout_ms=1500,
            interrupt_response=False, noise_reduction="near_field",
        )  # fmt: skip
        await run.session.override(SessionOverrides(turns=turns))
        await run.wait_until(
            lambda: conv.session.turn_config["turn_detection"]["type"] == "azure_semantic_vad_en"
        )
        echoed = conv.session.turn_config
        # Back to push to talk: server VAD off, live.
        await run.session.override(SessionOverrides(turns=turns.changed(push_to_talk=True)))
        await run.wait_until(lambda: conv.session.turn_config["turn_detection"] is None)
    assert echoed["turn_detection"]["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1_en",
        "threshold_level": "high",
        "timeout_ms": 1500,
    }
    assert echoed["turn_detection"]["interrupt_response"] is False
    assert echoed["input_audio_noise_reduction"] == {"type": "near_field"}
    assert len(emulator.connections) == 1
    assert emulator.latest.counts["session.update"] == 3


async def test_a_refused_value_shows_the_services_error(emulator, tmp_path: Path) -> None:
    async with running_session(emulator.endpoint, tmp_path, "--no-greeting") as run:
        await run.wait_until(lambda: ready(run))
        conv = run.session.conversation
        await run.session.override(SessionOverrides(silence_ms=20_000))
        param = "session.turn_detection.silence_duration_ms"
        await run.wait_until(lambda: param in conv.session.refused)
        # The next accepted update clears it.
        await run.session.override(SessionOverrides(silence_ms=900))
        await run.wait_until(lambda: not conv.session.refused)
    message = "silence_duration_ms must be an integer from 0 to 10000"
    assert any(message in text and param in text for text in run.notices())
    assert conv.session.turn_config["turn_detection"]["silence_duration_ms"] == 900
    assert len(emulator.connections) == 1


# -- typed text: streamed where the service offers it ------------------------------------


@pytest.mark.parametrize(
    "faults, argv, streamed",
    [
        ([], (), True),  # the SDK's default API version, 2026-07-15: streamed
        ([], ("--api-version", "2026-04-10"), False),  # before it: an item
        (["no-input-text"], (), False),  # offered by the version, refused by the service
    ],
    ids=["streamed", "older-api", "refused"],
)
async def test_typed_text_is_streamed_where_offered_else_an_item(
    emulator_factory, tmp_path: Path, faults, argv, streamed
) -> None:
    emu = await emulator_factory(faults=faults)
    async with running_session(emu.endpoint, tmp_path, "--no-greeting", *argv) as run:
        await run.wait_until(lambda: ready(run))
        await run.session.send_text("what is the weather like in Lisbon today")
        await run.wait_until(lambda: run.session.conversation.answered_user_turns == 1)
        reply = [t for t in run.session.conversation.turns if t.role == "agent"][-1]
        technical = run.logs.technical_path.read_text(encoding="utf-8")
    counts = emu.latest.counts
    assert "what is the weather like in Lisbon today" in reply.text
    assert (counts["input_text.done"] == 1) is (streamed or bool(faults))
    assert counts["conversation.item.create"] == (0 if streamed else 1)
    assert counts["input_text.delta"] == (3 if streamed or faults else 0)  # 3 words a delta
    said = "streamed with input_text.delta/done" if not argv else "sent as conversation.item.create"
    assert f"Typed text: {said}" in technical
    if faults:
        assert "input_text.delta refused; sent as conversation.item.create" in technical
