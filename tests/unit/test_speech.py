"""The emulator's espeak-ng speech: the same text is the same audio in every process."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import pytest

from voicelive_tui.emulator import speech

pytestmark = pytest.mark.skipif(not speech.espeak_available(), reason="espeak-ng is not installed")

PHRASE = "Hello! This is the local Voice Live emulator."


def test_a_phrase_is_the_same_audio_whatever_was_said_before(monkeypatch):
    """espeak-ng keeps its pitch flutter's phase from one utterance to the next, which no
    call resets: the agent's voice (and every echo test) changed with what the process
    had said before, in any session. Each phrase is spoken by a fresh copy of the library."""

    def uncached(text: str) -> speech.Speech:
        monkeypatch.setattr(speech, "_CACHE", OrderedDict())
        return asyncio.run(speech.synthesize_words(text, 24000))

    first = uncached(PHRASE)
    for before in ("Sorry, stop.", "Hello, what can you do?", PHRASE):
        uncached(before)
        assert uncached(PHRASE) == first
