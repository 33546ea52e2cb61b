"""Turn taking: which detector decides a turn, its parameters, noise and transcription.

:class:`TurnTaking` is the part of the session a user tunes live (flags at start-up, the
settings screen mid-session). :func:`turn_detection_wire` and friends give the wire JSON of
``session.update`` as plain dicts; the session layer wraps them in the SDK's models. Pure:
no I/O, no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

__all__ = [
    "DETECTORS",
    "TEXT_FIELDS",
    "EOU_LEVELS",
    "NOISE_REDUCTIONS",
    "SEMANTIC_DETECTORS",
    "Detector",
    "TurnTaking",
    "echoed_fields",
    "eou_model",
    "field_of_param",
    "noise_reduction_wire",
    "parse_bool",
    "parse_field",
    "show_value",
    "transcription_wire",
    "turn_detection_wire",
]

Detector = Literal[
    "server_vad",
    "azure_semantic_vad",
    "azure_semantic_vad_en",
    "azure_semantic_vad_multilingual",
    "none",
]
DETECTORS: tuple[str, ...] = get_args(Detector)
SEMANTIC_DETECTORS = frozenset(DETECTORS[1:4])
"""The detectors that take speech_duration_ms, remove_filler_words (and languages)."""
EouLevel = Literal["low", "medium", "high", "default"]
EOU_LEVELS: tuple[str, ...] = (*get_args(EouLevel), "off")
"""``off``: no end-of-utterance detection (only the silence window ends a turn)."""
NoiseReduction = Literal["azure_deep_noise_suppression", "near_field", "far_field", "off"]
NOISE_REDUCTIONS: tuple[str, ...] = get_args(NoiseReduction)
TRANSCRIPTION_MODELS = (
    "azure-speech",
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
    "mai-transcribe-1",
)


def eou_model(detector: str) -> str:
    """The end-of-utterance model that goes with a detector."""
    if detector == "azure_semantic_vad_multilingual":
        return "semantic_detection_v1_multilingual"
    if detector == "azure_semantic_vad_en":
        return "semantic_detection_v1_en"
    return "semantic_detection_v1"


@dataclass(frozen=True)
class TurnTaking:
    """How the service decides a turn; None: not sent (the service's default)."""

    detector: Detector = "server_vad"
    threshold: float = 0.5
    prefix_ms: int = 300
    silence_ms: int = 500
    speech_duration_ms: int | None = None
    eou: str = "off"
    """End-of-utterance detection: low, medium, high, default, or off."""
    eou_timeout_ms: int | None = None
    remove_filler_words: bool | None = None
    languages: tuple[str, ...] = ()
    interrupt_response: bool | None = None
    auto_truncate: bool | None = None
    create_response: bool | None = None
    noise_reduction: str = "azure_deep_noise_suppression"
    transcription_model: str = "azure-speech"
    transcription_language: str | None = None
    phrase_list: tuple[str, ...] = ()
    push_to_talk: bool = False
    """Tap to talk: the client commits and asks for the reply (no server VAD)."""

    @property
    def server_detects(self) -> bool:
        """The service ends turns (not push to talk, not ``none``)."""
        return self.detector != "none" and not self.push_to_talk

    def problem(self) -> str | None:
        """Why these values cannot be sent (checked before the service sees them), or None.

        Only what makes no sense at all; ranges are the service's to refuse, so its own
        error is what the user sees."""
        if self.detector not in DETECTORS:
            return f"turn detection must be one of {', '.join(DETECTORS)}"
        if self.eou not in EOU_LEVELS:
            return f"end-of-utterance level must be one of {', '.join(EOU_LEVELS)}"
        if self.noise_reduction not in NOISE_REDUCTIONS:
            return f"noise reduction must be one of {', '.join(NOISE_REDUCTIONS)}"
        return None

    def changed(self, **changes: Any) -> TurnTaking:
        """A copy with ``changes``."""
        return replace(self, **changes)


TEXT_FIELDS: dict[str, str] = {
    "detector": "turn detection",
    "threshold": "threshold",
    "prefix_ms": "prefix padding ms",
    "silence_ms": "silence ms",
    "speech_duration_ms": "speech duration ms",
    "eou": "end of utterance",
    "eou_timeout_ms": "EOU timeout ms",
    "remove_filler_words": "remove filler words",
    "languages": "languages",
    "interrupt_response": "interrupt response",
    "auto_truncate": "auto truncate",
    "create_response": "create response",
    "noise_reduction": "noise reduction",
    "transcription_model": "transcription model",
    "transcription_language": "transcription lang",
    "phrase_list": "phrase list",
    "push_to_talk": "push to talk",
}
"""The editable fields in the settings screen's order, with their labels."""

_WIRE_FIELD = {
    "threshold": "threshold",
    "prefix_padding_ms": "prefix_ms",
    "silence_duration_ms": "silence_ms",
    "speech_duration_ms": "speech_duration_ms",
    "remove_filler_words": "remove_filler_words",
    "languages": "languages",
    "interrupt_response": "interrupt_response",
    "auto_truncate": "auto_truncate",
    "create_response": "create_response",
    "end_of_utterance_detection": "eou",
    "threshold_level": "eou",
    "timeout_ms": "eou_timeout_ms",
    "type": "detector",
}


def field_of_param(param: str | None) -> str | None:
    """The :class:`TurnTaking` field an error's ``param`` names, e.g.
    ``session.turn_detection.silence_duration_ms`` -> ``silence_ms``; None if none."""
    if not param:
        return None
    parts = param.split(".")
    if parts[:1] == ["session"]:
        parts = parts[1:]
    if not parts:
        return None
    head = parts[0]
    if head == "turn_detection":
        if len(parts) == 1:
            return "detector"
        return _WIRE_FIELD.get(parts[-1], _WIRE_FIELD.get(parts[1]))
    if head == "input_audio_noise_reduction":
        return "noise_reduction"
    if head == "input_audio_transcription":
        last = parts[-1]
        if last == "language":
            return "transcription_language"
        if last == "phrase_list":
            return "phrase_list"
        return "transcription_model"
    return None


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True}
_BOOL_WORDS.update({"0": False, "false": False, "no": False, "off": False})


def parse_bool(text: str) -> bool | None:
    """``on``/``off`` (and 1/0, true/false, yes/no); ``""`` or ``default``: None (not sent)."""
    word = text.strip().lower()
    if word in ("", "default"):
        return None
    if word not in _BOOL_WORDS:
        raise ValueError("must be on, off or default")
    return _BOOL_WORDS[word]


def show_value(value: object) -> str:
    """A field's value as the settings screen shows and edits it."""
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_field(name: str, text: str) -> object:
    """A value typed in the settings screen for field ``name``; ValueError with a short
    reason when it is not even of the right kind (ranges are the service's to refuse)."""
    kinds = {f.name: f.type for f in fields(TurnTaking)}
    kind = str(kinds[name])
    raw = text.strip()
    if "bool" in kind:
        value = parse_bool(raw)
        if value is None and "None" not in kind:
            raise ValueError("must be on or off")
        return value
    if "tuple" in kind:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind.startswith("int"):
        if raw.lower() in ("", "default") and "None" in kind:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
    if "None" in kind and raw.lower() in ("", "default"):
        return None
    choices = {"detector": DETECTORS, "eou": EOU_LEVELS, "noise_reduction": NOISE_REDUCTIONS}
    if name in choices and raw not in choices[name]:
        raise ValueError(f"one of {', '.join(choices[name])}")
    if not raw:
        raise ValueError("must not be empty")
    return raw


def turn_detection_wire(turns: TurnTaking) -> dict[str, Any] | None:
    """``session.turn_detection`` as JSON; None with push to talk or ``none``."""
    if not turns.server_detects:
        return None
    wire: dict[str, Any] = {
        "type": turns.detector,
        "threshold": turns.threshold,
        "prefix_padding_ms": turns.prefix_ms,
        "silence_duration_ms": turns.silence_ms,
    }
    semantic = turns.detector in SEMANTIC_DETECTORS
    optional: dict[str, Any] = {
        "interrupt_response": turns.interrupt_response,
        "auto_truncate": turns.auto_truncate,
        "create_response": turns.create_response,
    }
    if semantic:
        optional["speech_duration_ms"] = turns.speech_duration_ms
        optional["remove_filler_words"] = turns.remove_filler_words
    if turns.detector == "azure_semantic_vad_multilingual" and turns.languages:
        optional["languages"] = list(turns.languages)
    wire.update({k: v for k, v in optional.items() if v is not None})
    if turns.eou != "off":
        eou: dict[str, Any] = {"model": eou_model(turns.detector), "threshold_level": turns.eou}
        if turns.eou_timeout_ms is not None:
            eou["timeout_ms"] = turns.eou_timeout_ms
        wire["end_of_utterance_detection"] = eou
    return wire


def noise_reduction_wire(turns: TurnTaking) -> dict[str, Any] | None:
    """``session.input_audio_noise_reduction``; None: off."""
    if turns.noise_reduction == "off":
        return None
    return {"type": turns.noise_reduction}


def transcription_wire(turns: TurnTaking) -> dict[str, Any]:
    """``session.input_audio_transcription``."""
    wire: dict[str, Any] = {"model": turns.transcription_model}
    if turns.transcription_language:
        wire["language"] = turns.transcription_language
    if turns.phrase_list:
        wire["phrase_list"] = list(turns.phrase_list)
    return wire


def echoed_fields(turn_config: dict[str, Any]) -> dict[str, object]:
    """The :class:`TurnTaking` fields as the service echoed them in ``session.updated``
    (the inverse of the wire helpers above); a field absent from the echo is absent here."""
    out: dict[str, object] = {}
    if "turn_detection" in turn_config:
        td = turn_config["turn_detection"]
        if not isinstance(td, dict):
            out["detector"] = "none"
        else:
            out["detector"] = td.get("type")
            for wire_name, name in _WIRE_FIELD.items():
                if wire_name in td and name not in ("eou", "detector"):
                    value = td[wire_name]
                    out[name] = tuple(value) if isinstance(value, list) else value
            eou = td.get("end_of_utterance_detection")
            out["eou"] = eou.get("threshold_level", "default") if isinstance(eou, dict) else "off"
            if isinstance(eou, dict) and "timeout_ms" in eou:
                out["eou_timeout_ms"] = eou["timeout_ms"]
    if "input_audio_noise_reduction" in turn_config:
        noise = turn_config["input_audio_noise_reduction"]
        out["noise_reduction"] = noise.get("type") if isinstance(noise, dict) else "off"
    transcription = turn_config.get("input_audio_transcription")
    if isinstance(transcription, dict):
        out["transcription_model"] = transcription.get("model")
        out["transcription_language"] = transcription.get("language")
        phrases = transcription.get("phrase_list")
        out["phrase_list"] = tuple(phrases) if isinstance(phrases, list) else ()
    return out
