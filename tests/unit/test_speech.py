"""The emulator's espeak-ng speech: the same text is the same audio in every process."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import pytest

from voicelive_tui.emulator import speech

pytestmark = pytest.mark.skipif(not speech.espeak_available(), reason="espeak-ng is not installed")

PHRASE = "Hello! This is the local Voice Live emulator."


def uncached(monkeypatch: pytest.MonkeyPatch, text: str) -> speech.Speech:
    """``text`` synthesised anew (an empty phrase cache)."""
    monkeypatch.setattr(speech, "_CACHE", OrderedDict())
    return asyncio.run(speech.synthesize_words(text, 24000))


def test_a_phrase_is_the_same_audio_whatever_was_said_before(monkeypatch):
    """espeak-ng keeps its pitch flutter's phase from one utterance to the next, which no
    call resets: the agent's voice (and every echo test) changed with what the process
    had said before, in any session. Each phrase is spoken by a fresh copy of the library."""
    first = uncached(monkeypatch, PHRASE)
    for before in ("Sorry, stop.", "Hello, what can you do?", PHRASE):
        uncached(monkeypatch, before)
        assert uncached(monkeypatch, PHRASE) == first


def test_a_speech_worker_that_died_is_started_again(monkeypatch):
    """The worker killed (out of memory, a stray signal): the next phrase starts a new one
    and is the library's speech again, not the ``espeak-ng`` program's stand-in."""
    first = uncached(monkeypatch, PHRASE)
    engine = speech._espeak_library()
    if not isinstance(engine, speech._FreshEspeak):
        pytest.skip("no espeak-ng library worker on this platform")
    engine._process.kill()
    engine._process.wait()
    assert uncached(monkeypatch, PHRASE) == first  # the library's speech, not the program's
    assert speech._espeak_library() is not engine
