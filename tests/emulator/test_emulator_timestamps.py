"""Word timestamps and input transcription deltas with the real SDK against the emulator."""

from __future__ import annotations

import numpy as np

from voicelive_tui.emulator.responder import AUDIO_CHUNK_MS

BLOCK_MS = AUDIO_CHUNK_MS
PUNCTUATION = "\"'.,;:!?()"


def voiced_frames(pcm: bytes, rate: int = 24000) -> np.ndarray:
    """Indices of the 10 ms frames louder than -40 dBFS."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    frame = rate // 100
    n = len(x) // frame
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    return np.nonzero(rms > 0.01)[0]


async def greeting_with_timestamps(probe, **session):
    await probe.wait_for("session.created")
    await probe.conn.session.update(session=session)
    await probe.wait_for("session.updated")
    await probe.conn.response.create()
    transcript = await probe.wait_for("response.audio_transcript.done")
    await probe.wait_for("response.done")
    return transcript.transcript


async def test_word_timestamps_cover_the_streamed_audio(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        transcript = await greeting_with_timestamps(probe, output_audio_timestamp_types=["word"])
    events = probe.events
    stamps = [e for e in events if e.type == "response.audio_timestamp.delta"]
    audio = [e for e in events if e.type == "response.audio.delta"]
    pcm = b"".join(e.delta for e in audio)
    spoken = [w.strip(PUNCTUATION) for w in transcript.split()]
    assert [s.text for s in stamps] == [w for w in spoken if w]
    assert all(s.timestamp_type == "word" and s.item_id == audio[0].item_id for s in stamps)
    spans = [(s.audio_offset_ms, s.audio_offset_ms + s.audio_duration_ms) for s in stamps]
    assert all(a < b <= c for (a, b), (c, _d) in zip(spans, spans[1:], strict=False))
    assert spans[-1][1] <= len(pcm) / 48
    # Every voiced stretch of the audio is within one block of a word, and every word
    # holds voiced audio: the timestamps describe what was really streamed.
    voiced_ms = voiced_frames(pcm) * 10
    starts, ends = np.array([a for a, _ in spans]), np.array([b for _, b in spans])
    for ms in voiced_ms:
        gap = np.maximum(starts - ms, ms - ends).clip(min=0).min()
        assert gap <= BLOCK_MS, f"voiced audio at {ms} ms is {gap} ms away from any word"
    for a, b in spans:
        assert np.any((voiced_ms >= a) & (voiced_ms < b)), f"word at {a}-{b} ms is silent"
    # A word's timestamp arrives no later than the audio chunk its first sample is in.
    position = {id(e): i for i, e in enumerate(events)}
    chunk_start, at = [], 0
    for e in audio:
        chunk_start.append((at, position[id(e)]))
        at += len(e.delta) // 48
    for stamp in stamps:
        covering = max(i for ms, i in chunk_start if ms <= stamp.audio_offset_ms)
        assert position[id(stamp)] < covering
    types = probe.types()
    assert types.index("response.audio_timestamp.done") < types.index("response.audio.done")


async def test_no_timestamps_unless_asked_or_without_an_azure_voice(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        await greeting_with_timestamps(probe)
        await probe.conn.session.update(
            session={
                "output_audio_timestamp_types": ["word"],
                "voice": {"type": "openai", "name": "alloy"},
            }
        )
        warning = await probe.wait_for("warning")
        await probe.conn.response.create()
        await probe.wait_for("response.done")
    assert "response.audio_timestamp.delta" not in probe.types()
    assert warning.warning.code == "audio_timestamps_unsupported_voice"


async def test_input_transcription_streams_deltas_when_configured(
    emulator, voicelive_client, speech_turn
):
    async with voicelive_client(emulator) as probe:
        await probe.wait_for("session.created")
        await probe.conn.session.update(
            session={"input_audio_transcription": {"model": "azure-speech"}}
        )
        await probe.wait_for("session.updated")
        await probe.send_audio(speech_turn().pcm)
        completed = await probe.wait_for("conversation.item.input_audio_transcription.completed")
    deltas = [
        e for e in probe.events if e.type == "conversation.item.input_audio_transcription.delta"
    ]
    assert deltas and all(d.item_id == completed.item_id for d in deltas)
    # They add up to the transcript unless the turn's whole decode changed a word streamed
    # while it was spoken (then ``completed`` has the final words).
    streamed = "".join(d.delta for d in deltas)
    assert streamed == completed.transcript or not completed.transcript.startswith(streamed)


async def test_truncate_keeps_the_words_whose_speech_had_started(emulator, voicelive_client):
    async with voicelive_client(emulator) as probe:
        transcript = await greeting_with_timestamps(probe, output_audio_timestamp_types=["word"])
        stamps = [e for e in probe.events if e.type == "response.audio_timestamp.delta"]
        cut_ms = stamps[4].audio_offset_ms + 1  # inside the fifth word
        await probe.conn.conversation.item.truncate(
            item_id=stamps[0].item_id, content_index=0, audio_end_ms=cut_ms
        )
        await probe.wait_for("conversation.item.truncated")
    stored = emulator.latest.conversation.find(stamps[0].item_id)
    assert stored.text == " ".join(transcript.split(" ")[:5])
