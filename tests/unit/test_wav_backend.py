"""The WAV and no-audio backends behave like a device on one clock."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.helpers import RecordingListener, read_wav, tone, wait_until, write_wav
from voicelive_tui.audio.backends import NullBackend, WavBackend
from voicelive_tui.audio.base import MIC_RMS, SAMPLE_RATE, SPEAKER_PEAK, AudioError


async def test_input_wav_is_resampled_delivered_in_blocks_then_silence(tmp_path):
    src = tmp_path / "in.wav"
    write_wav(src, np.repeat(tone(440, 0.5, 48_000, amplitude=16000), 2), 48_000, channels=2)
    backend = WavBackend(src, block_ms=20, speed=50)
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    blocks = []
    async for block in backend.capture():
        blocks.append(block)
        if len(blocks) == 40:  # 0.8 s: 0.5 s of tone then silence
            break
    await backend.stop()
    assert all(len(b) == 480 * 2 for b in blocks)
    audio = np.frombuffer(b"".join(blocks), np.int16)
    tone_part, silent_part = audio[: SAMPLE_RATE // 2 - 480], audio[SAMPLE_RATE // 2 + 480 :]
    assert np.sqrt(np.mean(tone_part.astype(float) ** 2)) > 8000
    assert not silent_part.any()
    spectrum = np.abs(np.fft.rfft(tone_part))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / tone_part.size - 440) < 5


async def test_played_audio_lands_in_output_wav_and_is_accounted(tmp_path):
    out = tmp_path / "out.wav"
    listener = RecordingListener()
    backend = WavBackend(output_wav=out, block_ms=20, speed=50)
    await backend.start(asyncio.get_running_loop(), listener)
    speech = tone(300, 0.3, SAMPLE_RATE)
    for chunk in np.array_split(speech, 5):
        backend.play("item_1", chunk.tobytes())
    await wait_until(lambda: backend.pending_ms() == 0)
    assert listener.started == ["item_1"]
    assert backend.played_ms("item_1") == 300
    assert backend.levels[SPEAKER_PEAK] == -120  # silence again once the item ended
    await backend.stop()
    data, rate, channels = read_wav(out)
    assert (rate, channels) == (SAMPLE_RATE, 1)
    start = int(np.flatnonzero(data)[0]) - 1  # the tone starts with a zero sample
    assert np.array_equal(data[start : start + speech.size], speech)


async def test_barge_in_stops_playback_within_one_block(tmp_path):
    out = tmp_path / "out.wav"
    backend = WavBackend(output_wav=out, block_ms=20, speed=50)
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    backend.play("item_1", np.full(SAMPLE_RATE * 5, 1000, np.int16).tobytes())
    await wait_until(lambda: backend.played_ms("item_1") >= 200)
    backend.barge_in()
    bumped_at = backend.blocks_ticked
    await wait_until(lambda: backend.blocks_ticked >= bumped_at + 5)
    heard = backend.played_ms("item_1")
    await backend.stop()
    data, _, _ = read_wav(out)
    assert backend.epoch == 1
    assert backend.pending_ms() == 0
    assert (data == 1000).sum() == heard * SAMPLE_RATE // 1000
    after = data[(bumped_at + 1) * backend.block :]
    assert not after.any()  # at most the block in flight at the bump was still played


async def test_muted_keeps_levels_but_sends_nothing(tmp_path):
    src = tmp_path / "in.wav"
    write_wav(src, tone(440, 2.0, SAMPLE_RATE), SAMPLE_RATE)
    # At real speed the tone plays for 2 s, so its level is read while it plays however
    # late a busy machine polls (at x50 it was over in 40 ms, and the silence after it read).
    backend = WavBackend(src, speed=1)
    backend.metering = True  # as the dashboard sets it
    backend.muted = True
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    await wait_until(lambda: backend.levels[MIC_RMS] > -20, what="the muted tone's level")
    backend.muted = False
    first = await backend.capture().__anext__()
    await backend.stop()
    assert len(first) == 960


async def test_recorder_gets_mic_left_and_agent_right(tmp_path):
    src, rec = tmp_path / "in.wav", tmp_path / "rec.wav"
    write_wav(src, tone(440, 0.2, SAMPLE_RATE), SAMPLE_RATE)
    backend = WavBackend(src, record=rec, speed=50)
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    backend.play("item_1", tone(1000, 0.2, SAMPLE_RATE).tobytes())
    await wait_until(lambda: backend.blocks_ticked >= 30)
    await backend.stop()
    data, rate, channels = read_wav(rec)
    assert (rate, channels) == (SAMPLE_RATE, 2)
    left, right = data[0::2], data[1::2]
    assert np.abs(left[: SAMPLE_RATE // 5]).max() > 8000
    assert np.abs(right[: SAMPLE_RATE // 5]).max() > 8000
    assert not left[SAMPLE_RATE // 5 + 480 :].any()


async def test_missing_input_wav_is_an_audio_error(tmp_path):
    backend = WavBackend(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="nope.wav"):
        await backend.start(asyncio.get_running_loop(), RecordingListener())


async def test_null_backend_is_text_only():
    backend = NullBackend(notice="no audio: because")
    await backend.start(asyncio.get_running_loop(), RecordingListener())
    backend.play("x", b"\x00\x01" * 100)
    backend.barge_in()
    assert (backend.has_input, backend.has_output, backend.played_ms("x")) == (False, False, 0)
    assert backend.notice == "no audio: because"
    await backend.stop()
    assert [b async for b in backend.capture()] == []
