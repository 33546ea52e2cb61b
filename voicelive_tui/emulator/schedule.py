"""When each delta of a streamed reply goes out, in ms from its first audio.

Audio goes in chunks; each transcript word (and, when asked, its word timestamp) goes out
with the audio chunk the word starts in, just before that chunk, so a client never gets
audio before the words it holds.

Two pacings (:data:`Pacing`):

- ``"service"`` (the default): as the service sends it, ahead of real time in bursts.
  Speech is synthesised :data:`BURST_RATE` times faster than it plays; each
  :data:`BURST_MS` of it goes out at once, as soon as it is made. A client holds up to
  (1 - 1 / BURST_RATE) of a reply queued (36 s of a 60 s reply), and a reply's
  ``response.done`` comes long before it finished playing.
- ``"realtime"``: at the pace it plays, :data:`AUDIO_LEAD_MS` ahead: a client has almost
  no lead to spend, the worst case for its jitter buffer (and what tests that must act
  while a reply is still streaming want).
"""

from __future__ import annotations

from typing import Any, Literal

from .speech import WordTime

__all__ = [
    "AUDIO_LEAD_MS",
    "BURST_MS",
    "BURST_RATE",
    "DEFAULT_PACING",
    "PACINGS",
    "TEXT_WORD_MS",
    "Pacing",
    "audio_schedule",
    "text_schedule",
]

Pacing = Literal["service", "realtime"]
PACINGS: tuple[Pacing, ...] = ("service", "realtime")
DEFAULT_PACING: Pacing = "service"

TEXT_WORD_MS = 80
"""Pace of a text-only reply's words."""

Schedule = list[tuple[float, str, Any]]
"""(ms, kind, payload): kind ``"text"`` (a transcript piece), ``"word"`` (a WordTime) or
``"audio"`` (PCM16 bytes)."""

AUDIO_LEAD_MS = 300
"""``realtime`` pacing: a spoken reply is sent up to this far ahead of real time."""

BURST_RATE = 2.5
"""``service`` pacing: speech is made this many times faster than real time (a .NET Voice
Live sample sizes its playback buffer for TTS arriving at about 2.5x real time)."""

BURST_MS = 1000
"""``service`` pacing: milliseconds of speech sent together, as one burst."""


def _send_at(at_ms: float, pacing: Pacing) -> float:
    """When the delta of the audio at ``at_ms`` goes out, in ms from the first audio."""
    if pacing == "realtime":
        return max(0.0, at_ms - AUDIO_LEAD_MS)
    return (at_ms // BURST_MS) * BURST_MS / BURST_RATE


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
    pacing: Pacing,
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
    # Sent ahead of real time, as the service synthesises faster than it speaks. Both
    # pacings are monotonic in ``at``, so the order is kept.
    ahead = [(_send_at(at, pacing), kind, payload) for at, kind, payload in events]
    return ahead, tuple(token_starts)
