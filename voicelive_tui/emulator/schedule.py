"""When each delta of a streamed reply goes out, in ms from its first audio.

Audio goes in chunks; each transcript word (and, when asked, its word timestamp) goes out
with the audio chunk the word starts in, just before that chunk, so a client never gets
audio before the words it holds.
"""

from __future__ import annotations

from typing import Any

from .speech import WordTime

__all__ = ["TEXT_WORD_MS", "audio_schedule", "text_schedule"]

TEXT_WORD_MS = 80
"""Pace of a text-only reply's words."""

Schedule = list[tuple[float, str, Any]]
"""(ms, kind, payload): kind ``"text"`` (a transcript piece), ``"word"`` (a WordTime) or
``"audio"`` (PCM16 bytes)."""

AUDIO_LEAD_MS = 300
"""A spoken reply is sent up to this far ahead of real time."""


def _pieces(text: str) -> list[str]:
    tokens = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(tokens)]


def text_schedule(text: str) -> Schedule:
    """A text-only reply: one word every TEXT_WORD_MS."""
    return [(i * TEXT_WORD_MS, "text", p) for i, p in enumerate(_pieces(text))]


def audio_schedule(
    text: str,
    audio: bytes,
    rate: int,
    words: list[WordTime],
    chunk: int,
    timestamps: bool,
    speech_ms: float,
) -> tuple[Schedule, tuple[float, ...]]:
    """The deltas of a spoken reply, and where each word of ``text.split(" ")`` starts.

    ``words`` are the spoken words' times (without them, the words are spread over the
    first ``speech_ms`` of the audio); ``chunk`` is the audio delta size in bytes."""
    pieces = _pieces(text)
    chunk_ms = chunk * 1000 / (2 * rate)

    def sent_at(ms: float) -> float:
        return (ms // chunk_ms) * chunk_ms

    # Tokens that are not spoken (a lone dash) go with the word before them.
    starts = {w.token: w.start_ms for w in words}
    events: Schedule = []
    token_starts = []
    at = 0.0
    for i, piece in enumerate(pieces):
        at = starts.get(i, at if words else i * speech_ms / len(pieces))
        token_starts.append(at)
        events.append((sent_at(at), "text", piece))
    if timestamps:
        events += [(sent_at(w.start_ms), "word", w) for w in words]
    events += [
        (pos * 1000 / (2 * rate), "audio", audio[pos : pos + chunk])
        for pos in range(0, len(audio), chunk)
    ]
    order = {"text": 0, "word": 1, "audio": 2}
    events.sort(key=lambda e: (e[0], order[e[1]]))
    # Sent ahead of real time, as the service synthesises faster than it speaks: one late
    # loop turn does not starve a client's jitter buffer. Order is kept.
    ahead = [(max(0.0, at - AUDIO_LEAD_MS), kind, payload) for at, kind, payload in events]
    return ahead, tuple(token_starts)
