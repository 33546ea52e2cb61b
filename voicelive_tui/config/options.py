"""The table of configurable values: flags, environment variables, help (defaults: Settings).

:mod:`voicelive_tui.config.resolve` builds the parser and the Settings from it; the README's
configuration table and ``--help`` both follow this order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from voicelive_tui.config.settings import DEFAULT_MODEL, ECHO_REFERENCES, Settings
from voicelive_tui.config.turns import DETECTORS, EOU_LEVELS, NOISE_REDUCTIONS

DEFAULT_ENV_FILE = ".env"
_SETTINGS_DEFAULTS = {f.name: f.default for f in fields(Settings)}


@dataclass(frozen=True)
class Option:
    """One configurable value: its flag(s), env variable(s) and help."""

    dest: str
    flags: tuple[str, ...]
    help: str
    env: tuple[str, ...] = ()
    kind: type = str
    """``tuple``: a repeatable flag (a comma-separated list in the environment); ``bool``:
    on/off (1/0, true/false, yes/no)."""
    shows_default: bool = False
    """``--help`` names the default (the one written in :class:`Settings`)."""
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def default(self) -> object:
        """The value when neither a flag nor the environment gives one (for ``--help``)."""
        return _SETTINGS_DEFAULTS[self.dest] if self.shows_default else None


# The table of the README; order is the --help order.
OPTIONS: tuple[Option, ...] = (
    Option(
        "endpoint",
        ("--endpoint",),
        "Voice Live endpoint, https://<resource>.services.ai.azure.com/ (none: the local emulator)",
        ("AZURE_VOICELIVE_ENDPOINT",),
        metavar="URL",
    ),
    Option(
        "api_key",
        ("--api-key",),
        "API key (key auth); without it Entra ID is used",
        ("AZURE_VOICELIVE_API_KEY",),
        metavar="KEY",
    ),
    Option(
        "credential",
        ("--credential",),
        "Entra ID credential: DefaultAzureCredential or AzureCliCredential",
        ("AZURE_VOICELIVE_CREDENTIAL",),
        shows_default=True,
        choices=("default", "cli"),
    ),
    Option(
        "model",
        ("--model",),
        f"model mode (no agent), default {DEFAULT_MODEL}",
        ("AZURE_VOICELIVE_MODEL",),
    ),
    Option(
        "instructions",
        ("--instructions",),
        "system instructions in model mode",
        ("AZURE_VOICELIVE_INSTRUCTIONS",),
        metavar="TEXT",
    ),
    Option(
        "agent_name",
        ("--agent-name",),
        "Foundry agent name (needs --project-name)",
        ("AZURE_VOICELIVE_AGENT_NAME", "AGENT_NAME"),
        metavar="NAME",
    ),
    Option(
        "agent_version",
        ("--agent-version",),
        "Foundry agent version",
        ("AZURE_VOICELIVE_AGENT_VERSION", "AGENT_VERSION"),
        metavar="VERSION",
    ),
    Option(
        "project_name",
        ("--project-name", "--foundry_project_name"),
        "Foundry project of the agent",
        ("AZURE_VOICELIVE_PROJECT_NAME", "AGENT_PROJECT_NAME"),
        metavar="NAME",
    ),
    Option(
        "conversation_id",
        ("--conversation-id",),
        "continue an existing Foundry conversation",
        ("AZURE_VOICELIVE_AGENT_CONVERSATION_ID", "AGENT_CONVERSATION_ID"),
        metavar="ID",
    ),
    Option(
        "foundry_resource_override",
        ("--foundry-resource-override",),
        "Foundry resource override (agent mode)",
        ("AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE",),
        metavar="RESOURCE",
    ),
    Option(
        "auth_identity_client_id",
        ("--auth-identity-client-id",),
        "agent authentication identity client id",
        ("AZURE_VOICELIVE_AGENT_AUTH_IDENTITY_CLIENT_ID",),
        metavar="ID",
    ),
    Option(
        "api_version",
        ("--api-version",),
        "Voice Live API version (default: the SDK's)",
        ("AZURE_VOICELIVE_API_VERSION",),
        metavar="VERSION",
    ),
    Option(
        "agent_id",
        ("--agent-id", "--agent_id"),
        "legacy agent mode: agent id (needs --project-name or --agent-connection-string)",
        ("AZURE_VOICELIVE_AGENT_ID",),
        metavar="ID",
    ),
    Option(
        "agent_connection_string",
        ("--agent-connection-string",),
        "hub-based project connection string (legacy agent mode)",
        ("AZURE_VOICELIVE_AGENT_CONNECTION_STRING",),
        metavar="STRING",
    ),
    Option(
        "voice",
        ("--voice",),
        "voice; names with '-' are Azure voices, others (alloy, echo, ...) OpenAI voices",
        ("AZURE_VOICELIVE_VOICE",),
        shows_default=True,
    ),
    Option(
        "vad_threshold",
        ("--vad-threshold",),
        "server VAD threshold, 0..1",
        kind=float,
        shows_default=True,
        metavar="X",
    ),
    Option(
        "vad_prefix_ms",
        ("--vad-prefix-ms",),
        "server VAD prefix padding, 0..5000 ms",
        kind=int,
        shows_default=True,
        metavar="MS",
    ),
    Option(
        "vad_silence_ms",
        ("--vad-silence-ms",),
        "server VAD silence duration, 50..10000 ms",
        kind=int,
        shows_default=True,
        metavar="MS",
    ),
    Option(
        "echo_reference",
        ("--echo-reference",),
        "echo cancellation's reference: what the service sent (server), what our speaker "
        "played, sent beside the microphone (client), or auto: client when the sound server "
        "is forwarded or the speaker's buffer is over 100 ms",
        ("VOICELIVE_TUI_ECHO_REFERENCE",),
        shows_default=True,
        choices=ECHO_REFERENCES,
    ),
    Option(
        "turn_detection",
        ("--turn-detection",),
        "what ends a user turn: server_vad, azure_semantic_vad(_en, _multilingual), or none "
        "(the client commits)",
        ("AZURE_VOICELIVE_TURN_DETECTION",),
        shows_default=True,
        choices=DETECTORS,
        metavar="TYPE",
    ),
    Option(
        "vad_speech_ms",
        ("--vad-speech-ms",),
        "semantic VAD: least speech that starts a turn (speech_duration_ms)",
        ("AZURE_VOICELIVE_VAD_SPEECH_MS",),
        kind=int,
        metavar="MS",
    ),
    Option(
        "eou",
        ("--eou",),
        "end-of-utterance detection: low, medium, high, default or off",
        ("AZURE_VOICELIVE_EOU",),
        shows_default=True,
        choices=EOU_LEVELS,
        metavar="LEVEL",
    ),
    Option(
        "eou_timeout_ms",
        ("--eou-timeout-ms",),
        "end-of-utterance detection: longest wait for a finished utterance",
        ("AZURE_VOICELIVE_EOU_TIMEOUT_MS",),
        kind=int,
        metavar="MS",
    ),
    Option(
        "remove_filler_words",
        ("--remove-filler-words",),
        "semantic VAD: filler words (um, uh) do not start or hold a turn: on or off",
        ("AZURE_VOICELIVE_REMOVE_FILLER_WORDS",),
        kind=bool,
        metavar="ON_OFF",
    ),
    Option(
        "vad_languages",
        ("--vad-languages",),
        "azure_semantic_vad_multilingual: languages to detect, BCP-47 (repeatable)",
        ("AZURE_VOICELIVE_VAD_LANGUAGES",),
        kind=tuple,
        metavar="LANG",
    ),
    Option(
        "interrupt_response",
        ("--interrupt-response",),
        "the user's speech cuts the agent off: on or off (off: the agent finishes)",
        ("AZURE_VOICELIVE_INTERRUPT_RESPONSE",),
        kind=bool,
        metavar="ON_OFF",
    ),
    Option(
        "auto_truncate",
        ("--auto-truncate",),
        "the service truncates an interrupted reply where it was heard: on or off",
        ("AZURE_VOICELIVE_AUTO_TRUNCATE",),
        kind=bool,
        metavar="ON_OFF",
    ),
    Option(
        "create_response",
        ("--create-response",),
        "the service answers each turn by itself: on or off (off: the client asks)",
        ("AZURE_VOICELIVE_CREATE_RESPONSE",),
        kind=bool,
        metavar="ON_OFF",
    ),
    Option(
        "noise_reduction",
        ("--noise-reduction",),
        "input noise reduction: azure_deep_noise_suppression, near_field, far_field or off",
        ("AZURE_VOICELIVE_NOISE_REDUCTION",),
        shows_default=True,
        choices=NOISE_REDUCTIONS,
        metavar="TYPE",
    ),
    Option(
        "transcription_model",
        ("--transcription-model",),
        "input transcription model (azure-speech, whisper-1, gpt-4o-transcribe, ...)",
        ("AZURE_VOICELIVE_TRANSCRIPTION_MODEL",),
        shows_default=True,
        metavar="MODEL",
    ),
    Option(
        "transcription_language",
        ("--transcription-language",),
        "input transcription language(s), BCP-47, e.g. en-US or en,fr for auto-detection",
        ("AZURE_VOICELIVE_TRANSCRIPTION_LANGUAGE",),
        metavar="LANG",
    ),
    Option(
        "phrase_list_file",
        ("--phrase-list",),
        "phrases that bias input transcription: a text file, one phrase a line",
        ("AZURE_VOICELIVE_PHRASE_LIST",),
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "log_dir",
        ("--log-dir",),
        "folder for the technical, conversation and events logs",
        ("AZURE_VOICELIVE_LOG_DIR",),
        kind=Path,
        shows_default=True,
        metavar="DIR",
    ),
    Option(
        "input_wav",
        ("--input-wav",),
        "play this WAV as the microphone, then silence",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "output_wav",
        ("--output-wav",),
        "write what the agent says to this WAV",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "replay",
        ("--replay",),
        "replay a past session on the dashboard: a log folder (its newest run) or an "
        "events.jsonl file; no network",
        kind=Path,
        metavar="LOGDIR_OR_EVENTS",
    ),
    Option(
        "speed",
        ("--speed",),
        "--replay: this many times real speed",
        kind=float,
        shows_default=True,
        metavar="X",
    ),
    Option(
        "summary_json",
        ("--summary-json",),
        "at exit, write latency by stage, token usage and the cost estimate as JSON",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "prices_file",
        ("--prices",),
        "price table (JSON) for the cost estimate, instead of the shipped placeholder one",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "budget",
        ("--budget",),
        "warn once when the estimated cost reaches 80 %% and once at 100 %% of AMOUNT",
        kind=float,
        metavar="AMOUNT",
    ),
    Option(
        "record",
        ("--record",),
        "record the session to a stereo WAV (left mic, right agent)",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "wav_speed",
        ("--wav-speed",),
        "run the WAV microphone and speaker X times faster than real time, 0.1..100",
        kind=float,
        shows_default=True,
        metavar="X",
    ),
    Option(
        "input_device",
        ("--input-device",),
        "input device: index or name substring",
        metavar="DEVICE",
    ),
    Option(
        "output_device",
        ("--output-device",),
        "output device: index or name substring",
        metavar="DEVICE",
    ),
    Option(
        "block_ms",
        ("--block-ms",),
        "audio block length, 5..200 ms",
        kind=int,
        shows_default=True,
        metavar="MS",
    ),
    Option(
        "handshake_timeout",
        ("--handshake-timeout",),
        "seconds to wait for the WebSocket handshake before retrying, 0.1..300",
        kind=float,
        shows_default=True,
        metavar="S",
    ),
    Option(
        "heartbeat",
        ("--heartbeat",),
        "seconds between keep-alive pings; a silent server is dropped after 1.5x, 0.1..300",
        kind=float,
        shows_default=True,
        metavar="S",
    ),
    Option(
        "retry_max",
        ("--retry-max",),
        "longest wait between reconnect attempts, 0.05..600 s",
        kind=float,
        shows_default=True,
        metavar="S",
    ),
    Option(
        "retry_cap",
        ("--retry-cap",),
        "failed or short-lived connections in a row before saying the server keeps closing",
        kind=int,
        shows_default=True,
        metavar="N",
    ),
    Option(
        "tools_file",
        ("--tools",),
        "model mode: function tools to offer, a JSON file of FunctionTool objects",
        kind=Path,
        metavar="FILE",
    ),
    Option(
        "tool_command",
        ("--tool-command",),
        "answer function calls with this command: call JSON on stdin, output JSON on stdout",
        metavar="CMD",
    ),
    Option(
        "tool_output",
        ("--tool-output",),
        "answer every function call with this fixed JSON output",
        metavar="JSON",
    ),
    Option(
        "auto_approve",
        ("--auto-approve",),
        "approve the MCP calls of this server label without asking (repeatable)",
        kind=tuple,
        metavar="LABEL",
    ),
    Option(
        "theme",
        ("--theme",),
        "the dashboard's colours, kept for the next runs (ansi-*: the terminal's own palette)",
        ("VOICELIVE_TUI_THEME",),
        choices=("dark", "light", "ansi-dark", "ansi-light", "high-contrast"),
        metavar="NAME",
    ),
    Option(
        "exit_after_turns",
        ("--exit-after-turns",),
        "console mode: exit 0 once the agent answered N user turns",
        kind=int,
        metavar="N",
    ),
)

# Switches: (dest, flags, help, value when given).
SWITCHES: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    (
        "use_token_credential",
        ("--use-token-credential",),
        "use Entra ID even when an API key is set",
        True,
    ),
    ("echo_cancellation", ("--no-echo-cancellation",), "turn off server echo cancellation", False),
    (
        "noise_suppression",
        ("--no-noise-suppression",),
        "turn off azure_deep_noise_suppression",
        False,
    ),
    ("greeting", ("--no-greeting",), "do not ask the agent for a greeting", False),
    ("verbose", ("--verbose",), "DEBUG level in the technical log", True),
    (
        "push_to_talk",
        ("--push-to-talk",),
        "tap to talk: a key opens the microphone, the same key sends (no server VAD)",
        True,
    ),
    ("demo", ("--demo",), "use the embedded local Voice Live emulator", True),
    ("no_tui", ("--no-tui",), "plain console output instead of the dashboard", True),
    (
        "screen_reader",
        ("--screen-reader",),
        "labelled lines for screen readers and braille displays, with the dashboard's keys",
        True,
    ),
    ("no_audio", ("--no-audio",), "no sound devices: text only", True),
    (
        "no_motion",
        ("--no-motion",),
        "reduced motion: audio levels as numbers twice a second, no sparklines or animation",
        True,
    ),
    ("full_duplex", ("--full-duplex",), "one full-duplex audio stream instead of two", True),
    (
        "sticky_device",
        ("--sticky-device",),
        "a named device (or sink) that went and returns is switched back to by itself",
        True,
    ),
    ("list_devices", ("--list-devices",), "list audio devices and exit", True),
    (
        "echo_check",
        ("--echo-check",),
        "play a probe, listen, and say how much of the speaker the microphone hears; exit",
        True,
    ),
    (
        "save_pulse_cookie",
        ("--save-pulse-cookie",),
        "store the PulseAudio cookie read on stdin (your laptop's, over SSH) and exit",
        True,
    ),
)

SWITCH_ENV: dict[str, str] = {
    "screen_reader": "VOICELIVE_TUI_SCREEN_READER",
    "sticky_device": "VOICELIVE_TUI_STICKY_DEVICE",
    "push_to_talk": "AZURE_VOICELIVE_PUSH_TO_TALK",
}
"""Switches that an environment variable (or the .env file) can turn on: 1, true, yes, on."""
