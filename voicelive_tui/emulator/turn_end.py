"""When the emulated service ends a user's turn: the turn detector's policy, pure.

The energy VAD (``vad.py``) finds where speech stops. What follows depends on the detector:

- ``server_vad``: the turn ends once ``silence_duration_ms`` of silence follows the speech.
- end-of-utterance detection (any detector): the model must be sure the utterance is over,
  and the surer it must be, the longer it waits: ``threshold_level`` low adds nothing,
  ``medium``/``default`` EOU_HOLD_MS["medium"], ``high`` EOU_HOLD_MS["high"]; ``timeout_ms`` caps
  the whole wait after the speech.
- the ``azure_semantic_vad`` types with input transcription on look at the words once
  PROBE_MS of silence follows the speech: a finished sentence ends the turn then (sooner
  than the silence window); a trailing filler word (um, uh) or a word that cannot end a
  sentence (and, to, the) holds it FILLER_HOLD_MS longer than the silence window (and the
  EOU wait); anything else waits for the silence window. Speech that resumes during the
  wait continues the same turn (no second ``speech_started``).
- ``speech_duration_ms`` (semantic types): speech shorter than this starts no turn.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "EOU_HOLD_MS",
    "FILLER_HOLD_MS",
    "FILLER_WORDS",
    "PROBE_MS",
    "SEMANTIC_TYPES",
    "end_wait_ms",
    "probe_ms",
    "turn_warnings",
    "without_fillers",
]

SEMANTIC_TYPES = frozenset(
    {"azure_semantic_vad", "azure_semantic_vad_en", "azure_semantic_vad_multilingual"}
)
EOU_HOLD_MS = {"low": 0, "medium": 300, "default": 300, "high": 700}
PROBE_MS = 250
FILLER_HOLD_MS = 1000
FILLER_WORDS = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "uhm", "ah"})
CANNOT_END = frozenset(
    {"and", "but", "or", "so", "because", "to", "the", "a", "an", "of", "with", "if", "then"}
)
"""Words a finished sentence does not end with (the emulator's end-of-utterance model)."""


def _eou(td: dict[str, Any]) -> dict[str, Any] | None:
    eou = td.get("end_of_utterance_detection")
    return eou if isinstance(eou, dict) else None


def recognises_words(td: dict[str, Any], session: dict[str, Any]) -> bool:
    """The detector looks at the words: a semantic type with input transcription on."""
    return td.get("type") in SEMANTIC_TYPES and bool(session.get("input_audio_transcription"))


def probe_ms(td: dict[str, Any], session: dict[str, Any]) -> int:
    """Silence after speech at which the VAD reports a candidate end of the turn."""
    silence = int(td.get("silence_duration_ms", 500))
    return min(PROBE_MS, silence) if recognises_words(td, session) else silence


def _last_word(words: str) -> str:
    found = re.findall(r"[a-z']+", words.lower())
    return found[-1] if found else ""


def end_wait_ms(td: dict[str, Any], session: dict[str, Any], words: str | None) -> int:
    """Silence after the speech before the turn ends (at least :func:`probe_ms`).

    ``words``: what was said so far, when the detector recognises words; else None."""
    silence = int(td.get("silence_duration_ms", 500))
    eou = _eou(td)
    wait = silence
    if eou is not None:
        wait += EOU_HOLD_MS.get(str(eou.get("threshold_level", "default")), 300)
    if words is not None and recognises_words(td, session):
        last = _last_word(words)
        if last in FILLER_WORDS or last in CANNOT_END:
            wait += FILLER_HOLD_MS
        elif last:
            wait = probe_ms(td, session)  # a finished sentence: no need to wait
    if eou is not None and isinstance(eou.get("timeout_ms"), int):
        wait = min(wait, int(eou["timeout_ms"]))
    return max(wait, probe_ms(td, session))


def without_fillers(text: str) -> str:
    """A transcript without its filler words (``remove_filler_words``)."""
    kept = [w for w in text.split() if w.lower().strip(".,!?") not in FILLER_WORDS]
    return " ".join(kept)


def turn_warnings(session: dict[str, Any], update: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, message) for turn-detection settings the emulator accepts but cannot honour."""
    if "turn_detection" not in update and "input_audio_transcription" not in update:
        return []
    td = session.get("turn_detection")
    if not isinstance(td, dict):
        return []
    kind = td.get("type")
    out: list[tuple[str, str]] = []
    if kind not in SEMANTIC_TYPES:
        for key in ("speech_duration_ms", "remove_filler_words", "languages"):
            if key in td:
                out.append(
                    (
                        "turn_detection_parameter_ignored",
                        f"turn_detection.{key} applies to the azure_semantic_vad types;"
                        f" {kind} ignores it.",
                    )
                )
    elif "languages" in td and kind != "azure_semantic_vad_multilingual":
        out.append(
            (
                "turn_detection_parameter_ignored",
                f"turn_detection.languages applies to azure_semantic_vad_multilingual; {kind}"
                " ignores it.",
            )
        )
    if kind in SEMANTIC_TYPES and not session.get("input_audio_transcription"):
        out.append(
            (
                "semantic_detection_without_transcription",
                f"{kind} hears no words without input_audio_transcription in the emulator:"
                " turns end by silence (and end-of-utterance level) only.",
            )
        )
    if td.get("auto_truncate"):
        out.append(
            (
                "auto_truncate_unsupported",
                "turn_detection.auto_truncate is not emulated: truncate interrupted replies"
                " with conversation.item.truncate.",
            )
        )
    return out
