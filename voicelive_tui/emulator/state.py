"""Emulator state: the effective session config, stored conversation items, and the
per-connection records tests observe.

Everything here is plain data; the socket handling lives in ``connection.py``.
"""

from __future__ import annotations

import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from azure.ai.voicelive.models import RequestSession

from .vad import VadEvent

__all__ = [
    "ConnectionRecord",
    "StoredConversation",
    "SessionConfigError",
    "StoredItem",
    "default_session",
    "merge_session",
    "new_id",
    "output_rate",
]

DEFAULT_MODEL = "gpt-4o"
DEFAULT_VOICE: dict[str, Any] = {"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"}
DEFAULT_INSTRUCTIONS = "You are the local Voice Live emulator. Be brief."
VAD_TYPES = {
    "server_vad",
    "semantic_vad",
    "azure_semantic_vad",
    "azure_semantic_vad_en",
    "azure_semantic_vad_multilingual",
}
EOU_MODELS = {
    "semantic_detection_v1",
    "semantic_detection_v1_en",
    "semantic_detection_v1_multilingual",
}
EOU_LEVELS = {"low", "medium", "high", "default"}
DEFAULT_TURN_DETECTION: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
INPUT_RATES = (8000, 16000, 24000)
OUTPUT_RATES = {"pcm16": 24000, "pcm16_16000hz": 16000, "pcm16_8000hz": 8000}
MODALITIES = {"text", "audio", "animation", "avatar"}
SESSION_FIELDS = frozenset(RequestSession()._attr_to_rest_field)
AUDIO_BUDGET_BYTES = 8 * 1024 * 1024
"""Most conversation audio kept (about 3 minutes at 24 kHz); older items keep only
their duration."""
RECORD_LIMIT = 4_000
"""Most entries each per-connection record list keeps (the newest)."""


def new_id(prefix: str) -> str:
    """A service-style identifier such as ``sess_3kT9...`` or ``item_...``."""
    return f"{prefix}_{secrets.token_urlsafe(15).replace('-', 'x').replace('_', 'y')}"


class SessionConfigError(ValueError):
    """A ``session.update`` the service would reject; ``param`` names the offending field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def default_session(model: str | None, agent: dict[str, Any] | None) -> dict[str, Any]:
    """The effective session a new connection starts with (as the wire JSON)."""
    session: dict[str, Any] = {
        "id": new_id("sess"),
        "model": model or DEFAULT_MODEL,
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "voice": dict(DEFAULT_VOICE),
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "output_audio_format": "pcm16",
        "turn_detection": dict(DEFAULT_TURN_DETECTION),
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None,
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }
    if agent is not None:
        session["agent"] = agent
        session["instructions"] = (
            f"You are {agent['name']}, an agent emulated by the local Voice Live emulator."
        )
    return session


def _check(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise SessionConfigError(message, param)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_turn_detection(td: Any) -> dict[str, Any] | None:
    param = "session.turn_detection"
    if td is None:
        return None
    _check(isinstance(td, dict), "turn_detection must be an object or null", param)
    _check(
        td.get("type") in VAD_TYPES,
        f"Unsupported turn_detection type {td.get('type')!r}",
        f"{param}.type",
    )
    merged = {**DEFAULT_TURN_DETECTION, **td}
    thr = merged["threshold"]
    _check(
        _is_number(thr) and 0.0 <= thr <= 1.0,
        "threshold must be a number from 0 to 1",
        f"{param}.threshold",
    )
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        _check_ms(merged, key, param)
    for key in ("create_response", "interrupt_response", "auto_truncate", "remove_filler_words"):
        if key in merged:
            _check(isinstance(merged[key], bool), f"{key} must be a boolean", f"{param}.{key}")
    if "speech_duration_ms" in merged:
        _check_ms(merged, "speech_duration_ms", param)
    if "languages" in merged:
        langs = merged["languages"]
        _check(
            isinstance(langs, list) and all(isinstance(x, str) and x for x in langs),
            "languages must be a list of BCP-47 language codes",
            f"{param}.languages",
        )
    if merged.get("end_of_utterance_detection") is not None:
        _check_eou(merged["end_of_utterance_detection"], f"{param}.end_of_utterance_detection")
    return merged


def _check_ms(obj: dict[str, Any], key: str, param: str) -> None:
    """``obj[key]`` is a whole number of milliseconds, 0 to 10000."""
    value = obj[key]
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000
    _check(ok, f"{key} must be an integer from 0 to 10000", f"{param}.{key}")


def _check_eou(eou: Any, param: str) -> None:
    _check(isinstance(eou, dict), "end_of_utterance_detection must be an object or null", param)
    _check(
        eou.get("model") in EOU_MODELS,
        f"Unsupported end_of_utterance_detection model {eou.get('model')!r};"
        f" expected one of {', '.join(sorted(EOU_MODELS))}",
        f"{param}.model",
    )
    level = eou.get("threshold_level", "default")
    _check(
        level in EOU_LEVELS,
        f"threshold_level must be one of low, medium, high, default; got {level!r}",
        f"{param}.threshold_level",
    )
    if "timeout_ms" in eou:
        _check_ms(eou, "timeout_ms", param)


def merge_session(current: dict[str, Any], update: Any) -> dict[str, Any]:
    """Validate a client's ``session`` object and return the new effective session.

    The update is all-or-nothing: on the first invalid field a :class:`SessionConfigError`
    is raised and ``current`` is left as it was.
    """
    _check(isinstance(update, dict), "session must be an object", "session")
    new = dict(current)
    for key, value in update.items():
        param = f"session.{key}"
        _check(key in SESSION_FIELDS, f"Unknown parameter: '{param}'.", param)
        if key == "modalities":
            _check(
                isinstance(value, list) and bool(value) and all(m in MODALITIES for m in value),
                "modalities must be a non-empty list of 'text' and 'audio'",
                param,
            )
        elif key == "voice":
            _check(
                isinstance(value, str) or (isinstance(value, dict) and "type" in value),
                "voice must be a name or an object with a 'type'",
                param,
            )
        elif key == "instructions":
            _check(isinstance(value, str), "instructions must be a string", param)
            if "agent" in current:
                continue  # in agent mode the agent's own instructions apply
        elif key == "input_audio_format":
            _check(
                value == "pcm16",
                f"Unsupported input_audio_format {value!r} (emulator: pcm16)",
                param,
            )
        elif key == "output_audio_format":
            _check(value in OUTPUT_RATES, f"Unsupported output_audio_format {value!r}", param)
        elif key == "input_audio_sampling_rate":
            _check(
                value in INPUT_RATES,
                f"input_audio_sampling_rate must be one of {INPUT_RATES}",
                param,
            )
        elif key == "turn_detection":
            value = _check_turn_detection(value)
        elif key == "temperature":
            _check(_is_number(value), "temperature must be a number", param)
        elif key in (
            "input_audio_noise_reduction",
            "input_audio_echo_cancellation",
            "input_audio_transcription",
        ):
            _check(
                value is None or isinstance(value, dict), f"{key} must be an object or null", param
            )
        new[key] = value
    return new


def output_rate(session: dict[str, Any]) -> int:
    """Sample rate of the audio the session sends."""
    return OUTPUT_RATES.get(session.get("output_audio_format") or "pcm16", 24000)


@dataclass
class StoredItem:
    """One conversation item as the emulator remembers it."""

    id: str
    role: str
    kind: str
    """``"audio"`` or ``"text"``: the content type of the item."""
    text: str = ""
    """Transcript (audio) or text of the item."""
    audio: bytes | bytearray = b""
    """PCM16 audio; a bytearray while a response streams into it."""
    rate: int = 24000
    status: str = "completed"
    transcript_ms: int = 0
    """For assistant audio: the span of audio the transcript's words are spoken over."""
    released_ms: int | None = None
    """Duration of the audio once it was released to bound memory (the bytes are gone)."""
    data: dict[str, Any] = field(default_factory=dict)
    """For tool items (``kind`` is the item type, ``role`` is ``"tool"``): their wire
    fields, e.g. ``name``, ``call_id``, ``arguments``, ``output``."""
    token_starts_ms: tuple[float, ...] = ()
    """For assistant audio: where each word of ``text.split(" ")`` starts being spoken."""

    @property
    def audio_ms(self) -> int:
        """Duration of the stored audio."""
        if self.released_ms is not None and not self.audio:
            return self.released_ms
        return len(self.audio) * 1000 // (2 * self.rate)

    def release_audio(self) -> None:
        """Forget the audio bytes, keep the duration."""
        if self.audio:
            self.released_ms = self.audio_ms
            self.audio = b""


@dataclass
class StoredConversation:
    """An ordered list of items; in agent mode it outlives the connection."""

    id: str
    items: list[StoredItem] = field(default_factory=list)
    billed_items: int = 0
    """Items already counted as some response's input (see ``wording.token_usage``)."""
    responses: int = 0
    """Responses that reported usage: the instructions are cached after the first."""
    spent_tokens: int = 0
    """Tokens reported so far; ``rate_limits.updated`` counts them against the limit."""

    def find(self, item_id: str) -> StoredItem | None:
        """The item with this id, if any."""
        return next((item for item in self.items if item.id == item_id), None)

    def last_id(self) -> str | None:
        """Id of the newest item (the ``previous_item_id`` of the next one)."""
        return self.items[-1].id if self.items else None

    def trim_audio(self, budget: int | None = None) -> None:
        """Release the audio of the oldest items beyond ``budget`` bytes (default
        AUDIO_BUDGET_BYTES); the newest item always keeps its audio."""
        budget = AUDIO_BUDGET_BYTES if budget is None else budget
        total = 0
        for item in reversed(self.items):
            total += len(item.audio)
            if total > budget and item is not self.items[-1]:
                item.release_audio()


def _bounded() -> deque[Any]:
    return deque(maxlen=RECORD_LIMIT)


@dataclass
class ConnectionRecord:
    """What one connection did, for tests and logs. Never holds a credential."""

    index: int
    query: dict[str, str]
    """Query parameters as received, with ``agent-access-token`` redacted."""
    auth_kind: str
    """``"api-key"``, ``"bearer"`` or ``"none"``."""
    agent_mode: str | None
    """``"foundry"`` (agent-name), ``"legacy"`` (agent-id) or None."""
    conversation: StoredConversation
    session: dict[str, Any] = field(default_factory=dict)
    client_events: deque[dict[str, Any]] = field(default_factory=_bounded)
    """One summary per client event: type, event_id, and small fields (never audio).

    This and the other lists of the record keep the newest RECORD_LIMIT entries."""
    counts: Counter[str] = field(default_factory=Counter)
    """Client events received, by type (``"invalid"`` for frames that could not be parsed)."""
    appended_audio_bytes: int = 0
    sent: deque[str] = field(default_factory=_bounded)
    """Types of the server events sent, in order."""
    errors_sent: deque[dict[str, Any]] = field(default_factory=_bounded)
    vad_events: deque[VadEvent] = field(default_factory=_bounded)
    responses: deque[dict[str, Any]] = field(default_factory=_bounded)
    """One entry per response: id, status, reason."""
    last_truncate: dict[str, Any] | None = None
    streaming_text: dict[str, str] = field(default_factory=dict)
    """``input_text.delta`` text by item id, until its ``input_text.done``."""
    dropped_by_fault: bool = False
    closed: bool = False
