"""The emulator's echo canceller on synthetic leaks (the agent's real espeak-ng voice,
delayed, quieter and coloured), with the clock given explicitly."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicelive_tui.emulator.echo import CLIENT_SEARCH_MS, EchoCanceller, ServerReference
from voicelive_tui.emulator.speech import espeak_available
from voicelive_tui.emulator.vad import VoiceActivityDetector
from voicelive_tui.emulator.wording import speak

RATE = 24000
BLOCK = 960  # 40 ms
LEAK_DELAY = RATE * 180 // 1000

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def voice(text: str) -> np.ndarray:
    _text, pcm, _words = asyncio.run(speak(text, RATE))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32)


def pcm16(x: np.ndarray) -> bytes:
    return bytes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean((x / 32768) ** 2) + 1e-12))


def test_a_client_reference_removes_the_echo_and_keeps_the_user():
    agent = voice(
        "Hello! This is the local Voice Live emulator. Speak, and I will play your words."
    )
    user = voice("Sorry, stop.")
    echo = np.zeros(len(agent) + RATE, dtype=np.float32)
    echo[LEAK_DELAY : LEAK_DELAY + len(agent)] = 0.5 * agent
    echo = np.convolve(echo, [0.6, 0.3, 0.1])[: len(echo)].astype(np.float32)  # the room
    at = 2 * RATE
    mic = echo.copy()
    mic[at : at + len(user)] += 0.8 * user
    reference = np.zeros_like(mic)
    reference[: len(agent)] = agent
    canceller = EchoCanceller(RATE, CLIENT_SEARCH_MS)
    out = np.concatenate(
        [
            np.frombuffer(
                canceller.process(pcm16(mic[i : i + BLOCK]), pcm16(reference[i : i + BLOCK])),
                dtype="<i2",
            )
            for i in range(0, len(mic), BLOCK)
        ]
    ).astype(np.float32)
    assert canceller.delay is not None and abs(canceller.delay - LEAK_DELAY) <= 4
    echo_only = slice(at + len(user) + RATE // 2, len(agent))
    assert level_db(out[echo_only]) < level_db(mic[echo_only]) - 30
    users = slice(at, at + len(user))
    # What is left where the user spoke is the user (to -6 dB while both talk), not the echo.
    assert abs(level_db(out[users]) - level_db(0.8 * user)) < 2
    assert level_db(out[users] - 0.8 * user) < level_db(0.8 * user) - 6


@pytest.mark.parametrize("late_ms, heard", [(0, False), (100, False), (400, True)])
def test_a_server_reference_fits_a_prompt_client_and_misses_a_deeply_buffered_one(late_ms, heard):
    """The reference is the audio as sent (150 ms deltas up to 300 ms ahead), laid on the
    clock at which it was sent; the client plays it ``late_ms`` later than that."""
    _text, sent_pcm, _words = asyncio.run(
        speak("Hello! This is the local Voice Live emulator.", RATE)
    )
    agent = np.frombuffer(sent_pcm, dtype="<i2").astype(np.float32)
    reference, vad = ServerReference(RATE), VoiceActivityDetector(RATE)
    delay = LEAK_DELAY + RATE * late_ms // 1000
    mic = np.zeros(len(agent) + delay + RATE, dtype=np.float32)
    mic[delay : delay + len(agent)] = 0.5 * agent
    start, sent, delta = 10.0, 0, RATE * 150 // 1000
    events = []
    for i in range(0, len(mic), BLOCK):
        now = start + (i + BLOCK) / RATE
        while sent < len(agent) and start + sent / RATE - 0.3 <= now:
            reference.sent(
                sent_pcm[2 * sent : 2 * (sent + delta)], start + max(0.0, sent / RATE - 0.3)
            )
            sent += delta
        events += vad.feed(reference.process(pcm16(mic[i : i + BLOCK]), now))
    assert any(e.kind == "started" for e in events) is heard


# -- a session's replies one after another (the client reference, as the leak tests saw) -----

LOOP = RATE * 150 // 1000  # the leak's delay behind the reference
HOW = "Hello, what can you do?"  # the user (tests.conftest.SPEECH_TEXT)


def run_client(mic: np.ndarray, reference: np.ndarray) -> tuple[list[int], EchoCanceller]:
    """Both through a client-reference canceller and the service's VAD in 20 ms appends:
    (where speech started, ms; the canceller)."""
    canceller = EchoCanceller(RATE, CLIENT_SEARCH_MS, played=True)
    vad = VoiceActivityDetector(RATE)
    starts, block = [], RATE // 50
    for i in range(0, len(mic) - block + 1, block):
        out = canceller.process(pcm16(mic[i : i + block]), pcm16(reference[i : i + block]))
        starts += [e.ms for e in vad.feed(out) if e.kind == "started"]
    return starts, canceller


def leaked(reference: np.ndarray, delay: int, gain: float = 1.0) -> np.ndarray:
    """What the microphone hears of ``reference``: ``delay`` samples late, ``gain`` loud."""
    mic = np.zeros_like(reference)
    mic[delay:] = gain * reference[: len(reference) - delay]
    return mic


@pytest.mark.parametrize("gap_ms", [300, 500, 700])
@pytest.mark.parametrize("user_gain", [0.5, 1.0])
def test_the_user_answering_over_the_reply_s_tail_does_not_teach_the_canceller(gap_ms, user_gain):
    """A reply, the user answering soon after it (its last words still in the
    canceller's reach), then the next reply: the user's words are no echo, and must not
    move the delay nor the echo's level (seen: 998 ms and -20 dB, then the next reply's
    first echo went through and the agent interrupted itself)."""
    reply, answer = voice("Hello! This is the local Voice Live emulator."), voice(HOW)
    gap = RATE * gap_ms // 1000
    reference = np.concatenate([reply, np.zeros(gap + len(answer) + RATE), reply, np.zeros(RATE)])
    mic = leaked(reference, LOOP)
    at = len(reply) + gap
    mic[at : at + len(answer)] += user_gain * answer
    starts, canceller = run_client(mic, reference)
    assert [ms for ms in starts if ms < at * 1000 // RATE] == []
    user_ms = at * 1000 // RATE
    assert len(starts) == 1 and user_ms <= starts[0] < user_ms + 200  # the user, heard
    assert canceller.delay is not None and abs(canceller.delay - LOOP) <= 4
    assert canceller.coupling > 0.5


def test_a_delay_moved_while_the_speaker_was_silent_is_found_before_its_echo_is_heard():
    """The client lays its reference anew on its clock while its speaker is silent: the
    next reply's echo comes 60 ms earlier behind the reference than the last one's. The
    canceller confirms the delay anew from the reply's first echo on."""
    reply = voice("Hello! This is the local Voice Live emulator.")
    silence = np.zeros(RATE, dtype=np.float32)
    first = np.concatenate([reply, silence])
    second = np.concatenate([reply, silence])
    moved = LOOP - RATE * 60 // 1000
    reference = np.concatenate([first, second])
    mic = np.concatenate([leaked(first, LOOP), leaked(second, moved)])
    starts, canceller = run_client(mic, reference)
    assert starts == []
    assert canceller.delay is not None and abs(canceller.delay - moved) <= 4


def test_echo_of_what_played_before_the_stream_began_is_not_the_user():
    """The microphone's stream starts while the agent speaks (PulseAudio opened it late):
    its first echo is of sound played before the stream, with no reference beside it."""
    reply = voice("Hello! This is the local Voice Live emulator.")
    played = np.concatenate([reply, np.zeros(RATE, dtype=np.float32)])
    heard = leaked(played, LOOP)
    late = RATE // 2  # the stream's first sample
    starts, _ = run_client(heard[late:], played[late:])
    assert starts == []


def test_a_block_the_microphone_dropped_mid_reply_does_not_let_the_echo_through():
    """Under load the capture lost one 20 ms block mid-reply, so the echo comes a block
    earlier behind the reference from there on (seen: 150.9 then 130 ms)."""
    reply = voice(
        "Hello! This is the local Voice Live emulator. Speak, and I will play your words."
    )
    reference = np.concatenate([reply, np.zeros(RATE, dtype=np.float32)])
    heard = leaked(reference, RATE * 151 // 1000)
    cut, block = 2 * RATE, RATE // 50
    mic = np.concatenate([heard[:cut], heard[cut + block :], np.zeros(block, np.float32)])
    starts, canceller = run_client(mic, reference)
    assert starts == []
    assert canceller.delay is not None and abs(canceller.delay - RATE * 131 // 1000) <= 4


@pytest.mark.parametrize(
    "blocks, at_ms", [(-1, 1020), (-1, 3880), (1, 2060), (1, 4010), (-2, 3100)]
)
def test_blocks_the_microphone_dropped_or_doubled_mid_reply_do_not_let_the_echo_through(
    blocks, at_ms
):
    """The capture lost (``blocks`` < 0) or repeated 20 ms blocks at ``at_ms``: the echo
    moves by as much behind the reference mid-reply (the last case over a pause between
    sentences, so its echo resumes at the moved delay). The canceller finds it there
    before VAD hears it (before: speech started 60-260 ms after the move)."""
    reply = voice(
        "Hello! This is the local Voice Live emulator. Speak, and I will play your words."
    )
    reference = np.concatenate([reply, np.zeros(RATE, dtype=np.float32)])
    delay = RATE * 151 // 1000
    heard = leaked(reference, delay)
    cut, shift = RATE * at_ms // 1000, abs(blocks) * RATE // 50
    if blocks < 0:
        mic = np.concatenate([heard[:cut], heard[cut + shift :], np.zeros(shift, np.float32)])
    else:
        mic = np.concatenate([heard[:cut], heard[cut - shift : len(heard) - shift]])
    starts, canceller = run_client(mic, reference)
    assert starts == []
    moved = delay + (shift if blocks > 0 else -shift)
    assert canceller.delay is not None and abs(canceller.delay - moved) <= 4
