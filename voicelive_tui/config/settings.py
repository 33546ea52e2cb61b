"""Settings: the one frozen dataclass of everything the app needs, resolved at start-up.

Each default is written here once; the options table shows them in ``--help``.

:mod:`voicelive_tui.config.resolve` builds it (flags > environment > .env file) and validates it;
import it from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from voicelive_tui.config.prices_file import shipped_prices
from voicelive_tui.config.turns import Detector, TurnTaking
from voicelive_tui.prices import PriceTable

__all__ = ["DEFAULT_MODEL", "DEFAULT_VOICE", "ECHO_REFERENCES", "EchoReference", "Settings"]

DEFAULT_VOICE = "en-US-Ava:DragonHDLatestNeural"
DEFAULT_MODEL = "gpt-realtime"
EchoReference = Literal["server", "client", "auto"]
"""Where echo cancellation's reference comes from (``auto``: decided when audio starts)."""
ECHO_REFERENCES: tuple[EchoReference, ...] = ("server", "client", "auto")
Mode = Literal["agent", "legacy-agent", "model"]
_TURNS = TurnTaking()
"""The turn-taking defaults: written once, in :class:`TurnTaking`; the flat fields below are
the flags' view of it (``Settings.turn_taking`` puts them back together)."""
"""A Foundry agent by name, a legacy agent by id, or a model with its own instructions."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know, resolved once at start-up."""

    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    credential: str = "default"
    use_token_credential: bool = False
    model: str | None = None
    instructions: str | None = None
    agent_name: str | None = None
    agent_version: str | None = None
    project_name: str | None = None
    conversation_id: str | None = None
    foundry_resource_override: str | None = None
    auth_identity_client_id: str | None = None
    api_version: str | None = None
    agent_id: str | None = None
    agent_connection_string: str | None = field(default=None, repr=False)
    voice: str = DEFAULT_VOICE
    vad_threshold: float = _TURNS.threshold
    vad_prefix_ms: int = _TURNS.prefix_ms
    vad_silence_ms: int = _TURNS.silence_ms
    turn_detection: Detector = _TURNS.detector
    vad_speech_ms: int | None = _TURNS.speech_duration_ms
    eou: str = _TURNS.eou
    eou_timeout_ms: int | None = _TURNS.eou_timeout_ms
    remove_filler_words: bool | None = _TURNS.remove_filler_words
    vad_languages: tuple[str, ...] = _TURNS.languages
    interrupt_response: bool | None = _TURNS.interrupt_response
    auto_truncate: bool | None = _TURNS.auto_truncate
    create_response: bool | None = _TURNS.create_response
    """None (these four and speech duration, EOU timeout): not sent, the service's default."""
    noise_reduction: str = _TURNS.noise_reduction
    transcription_model: str = _TURNS.transcription_model
    transcription_language: str | None = _TURNS.transcription_language
    phrase_list_file: Path | None = None
    phrase_list: tuple[str, ...] = _TURNS.phrase_list
    """Loaded from ``phrase_list_file``."""
    push_to_talk: bool = _TURNS.push_to_talk
    echo_cancellation: bool = True
    noise_suppression: bool = True
    echo_reference: EchoReference = "auto"
    greeting: bool = True
    log_dir: Path = Path("logs")
    verbose: bool = False
    demo: bool = False
    demo_requested: bool = False
    """--demo was given (``demo`` is also on when no endpoint is configured)."""
    no_tui: bool = False
    screen_reader: bool = False
    """Labelled, append-only lines for screen readers and braille displays (reader.py)."""
    no_motion: bool = False
    theme: str | None = None
    """The dashboard's Textual theme (--theme's names mapped, or the saved preference)."""
    theme_given: bool = False
    """--theme (or VOICELIVE_TUI_THEME) chose it this run: the dashboard keeps the choice."""
    preferences_file: Path | None = None
    """Where the theme is kept between runs (config.preferences); None: nowhere."""
    """Levels as numbers, no sparklines or animation (as TEXTUAL_ANIMATIONS=none)."""
    # Audio.
    input_wav: Path | None = None
    output_wav: Path | None = None
    record: Path | None = None
    summary_json: Path | None = None
    prices_file: Path | None = None
    budget: float | None = None
    prices: PriceTable = field(default_factory=shipped_prices)
    """The cost estimate's table: ``prices_file``, else the one shipped in the package."""
    replay: Path | None = None
    speed: float = 1.0
    wav_speed: float = 1.0
    no_audio: bool = False
    input_device: str | None = None
    output_device: str | None = None
    block_ms: int = 20
    full_duplex: bool = False
    sticky_device: bool = False
    list_devices: bool = False
    echo_check: bool = False
    save_pulse_cookie: bool = False
    pulse_forwarded: bool = False
    """PULSE_SERVER names a server other than this machine's own (set up by audio.pulse)."""
    audio_problem: str = ""
    """Why the configured sound server cannot be used (with --demo: the scripted user)."""
    # Connection.
    handshake_timeout: float = 10.0
    heartbeat: float = 10.0
    retry_max: float = 30.0
    retry_cap: int = 8
    # Function tools (model mode).
    tools_file: Path | None = None
    tool_command: str | None = None
    tool_output: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    """Loaded from ``tools_file``."""
    tool_choice: str | dict[str, Any] | None = None
    auto_approve: tuple[str, ...] = ()
    """MCP server labels whose calls are approved without asking."""
    # Console mode.
    exit_after_turns: int | None = None

    @property
    def turn_taking(self) -> TurnTaking:
        """The turn-taking values as configured (the settings screen edits a copy)."""
        return TurnTaking(
            detector=self.turn_detection,
            threshold=self.vad_threshold,
            prefix_ms=self.vad_prefix_ms,
            silence_ms=self.vad_silence_ms,
            speech_duration_ms=self.vad_speech_ms,
            eou=self.eou,
            eou_timeout_ms=self.eou_timeout_ms,
            remove_filler_words=self.remove_filler_words,
            languages=self.vad_languages,
            interrupt_response=self.interrupt_response,
            auto_truncate=self.auto_truncate,
            create_response=self.create_response,
            noise_reduction=self.noise_reduction if self.noise_suppression else "off",
            transcription_model=self.transcription_model,
            transcription_language=self.transcription_language,
            phrase_list=self.phrase_list,
            push_to_talk=self.push_to_talk,
        )

    @property
    def mode(self) -> Mode:
        """ "agent" (Foundry agent by name), "legacy-agent" (agent id) or "model"."""
        if self.agent_name:
            return "agent"
        if self.agent_id:
            return "legacy-agent"
        return "model"

    @property
    def effective_model(self) -> str | None:
        """The model in model mode (default gpt-realtime); None in agent modes."""
        if self.mode != "model":
            return None
        return self.model or DEFAULT_MODEL

    @property
    def uses_api_key(self) -> bool:
        """True when the connection authenticates with the API key."""
        return bool(self.api_key) and not self.use_token_credential

    def mode_label(self) -> str:
        """Short text for the status bar: agent name or model."""
        if self.mode == "agent":
            version = f" v{self.agent_version}" if self.agent_version else ""
            return f"agent {self.agent_name}{version}"
        if self.mode == "legacy-agent":
            return f"agent {self.agent_id}"
        return f"model {self.effective_model}"
