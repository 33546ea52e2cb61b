"""Settings from flags > environment > .env file, validated (the dataclass: settings.py).

Nothing else in the package reads ``os.environ``; the CLI builds the parser with
:func:`build_parser` and turns its namespace into :class:`Settings` with
:func:`settings_from_args`, which also validates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import wave
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from voicelive_tui.config.options import (
    DEFAULT_ENV_FILE,
    OPTIONS,
    SWITCH_ENV,
    SWITCHES,
    Option,
)
from voicelive_tui.config.preferences import load_preferences, preferences_path
from voicelive_tui.config.prices_file import load_prices
from voicelive_tui.config.settings import DEFAULT_VOICE, ECHO_REFERENCES, Settings
from voicelive_tui.config.tools_file import has_functions, load_tools
from voicelive_tui.config.turns import SEMANTIC_DETECTORS
from voicelive_tui.errors import EXIT_CONFIG, VoiceLiveError
from voicelive_tui.platform_support import command_argv

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_VOICE",
    "ConfigError",
    "Settings",
    "build_parser",
    "input_wav_problem",
    "read_env_file",
    "settings_from_args",
    "validate",
]

DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Answer briefly and naturally, as in a conversation."
)


class ConfigError(VoiceLiveError):
    """Bad configuration or usage; the message is one line for the user (exit 2)."""

    exit_code = EXIT_CONFIG


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see --help)")


def build_parser(prog: str = "voicelive-tui") -> argparse.ArgumentParser:
    """The command-line parser; every default is None so precedence can be resolved."""
    parser = _Parser(
        prog=prog,
        description="A terminal dashboard for Azure AI Voice Live voice agents. "
        "With no endpoint it talks to the embedded local Voice Live emulator.",
        epilog="Exit statuses: 0 normal, 2 bad configuration or usage, "
        "3 authentication failed, 4 could not connect.",
    )
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help=f"read settings from this .env file (default: ./{DEFAULT_ENV_FILE} when present)",
    )
    for opt in OPTIONS:
        extra = f" [env: {', '.join(opt.env)}]" if opt.env else ""
        default = f" (default: {opt.default})" if opt.default is not None else ""
        parser.add_argument(
            *opt.flags,
            dest=opt.dest,
            action="append" if opt.kind is tuple else "store",
            default=None,
            choices=opt.choices,
            metavar=opt.metavar,
            help=f"{opt.help}{default}{extra}",
        )
    for dest, flags, text, value in SWITCHES:
        parser.add_argument(
            *flags, dest=dest, action="store_const", const=value, default=None, help=text
        )
    parser.add_argument(
        "--version", action="version", version="%(prog)s " + _version(), help="show the version"
    )
    return parser


def _version() -> str:
    from voicelive_tui import __version__

    return __version__


def read_env_file(path: str | None) -> dict[str, str]:
    """Values of the .env file; a missing default file is fine, a missing named one is not."""
    target = Path(path) if path else Path(DEFAULT_ENV_FILE)
    if not target.exists():
        if path:
            raise ConfigError(f"env file not found: {path}")
        return {}
    if not target.is_file() or not os.access(target, os.R_OK):
        raise ConfigError(f"env file is not readable: {target}")
    try:
        with open(target, encoding="utf-8") as stream:
            bad = next((b for b in parse_stream(stream) if b.error), None)
        if bad is not None:
            # python-dotenv would drop the line with a warning of its own, and a dropped
            # endpoint or key silently changes what the app connects to.
            # Only the name: the value may be a key.
            name = bad.original.string.strip().partition("=")[0].strip()[:60]
            raise ConfigError(
                f"{target}, line {bad.original.line}: cannot parse the value of {name}"
                " (an unclosed quote?)"
            )
        values = dotenv_values(target)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"env file is not readable: {target} ({exc.__class__.__name__})"
        ) from None
    return {k: v for k, v in values.items() if v is not None}


def _convert(opt: Option, raw: object, source: str) -> object:
    if opt.kind is tuple and raw is not None:
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(item.strip() for item in items if item.strip())
    if opt.kind is str or raw is None:
        return raw
    if opt.kind is bool:
        return _switch_value(source, str(raw), "on or off")
    if isinstance(raw, opt.kind):
        return raw
    try:
        return opt.kind(raw)
    except (TypeError, ValueError):
        kinds = {int: "a whole number", float: "a number"}
        kind = kinds.get(opt.kind, opt.kind.__name__)
        raise ConfigError(f"{source} must be {kind}, got {raw!r}") from None


def _switch_value(name: str, raw: str, words: str = "1 or 0") -> bool:
    word = raw.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be {words}, got {raw!r}")


def settings_from_args(
    args: argparse.Namespace,
    environ: Mapping[str, str],
) -> Settings:
    """Resolve flags > environment > .env file > defaults, then validate."""
    dotenv = read_env_file(getattr(args, "env_file", None))
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        flag_value = getattr(args, opt.dest, None)
        if flag_value is not None:
            values[opt.dest] = _convert(opt, flag_value, opt.flags[0])
            continue
        # Our names (environment, then .env) before the SDK sample's aliases (AGENT_NAME...),
        # so a leftover AGENT_NAME in the shell never overrides our name in the .env file.
        lookups = [(source, name) for name in opt.env[:1] for source in (environ, dotenv)]
        lookups += [(source, name) for name in opt.env[1:] for source in (environ, dotenv)]
        hit = next(((source, name) for source, name in lookups if source.get(name)), None)
        if hit:
            source, name = hit
            values[opt.dest] = _convert(opt, source[name], name)
    for dest, _flags, _text, _value in SWITCHES:
        given = getattr(args, dest, None)
        if given is not None:
            values[dest] = given
        elif dest in SWITCH_ENV:
            name = SWITCH_ENV[dest]
            raw = environ.get(name) or dotenv.get(name)
            if raw:
                values[dest] = _switch_value(name, raw)
    for dest in ("credential", "echo_reference"):
        if values.get(dest) is not None:
            values[dest] = str(values[dest]).lower()
    known = {f.name for f in fields(Settings)}
    settings = Settings(**{k: v for k, v in values.items() if k in known})
    validate(settings)
    settings = _replace(settings, demo_requested=settings.demo)
    if settings.tools_file is not None:
        try:
            toolset = load_tools(settings.tools_file)
        except ValueError as exc:
            raise ConfigError(f"cannot use --tools {settings.tools_file}: {exc}") from None
        settings = _replace(settings, tools=toolset.tools, tool_choice=toolset.tool_choice)
        _validate_tool_answers(settings)
    if settings.phrase_list_file is not None:
        settings = _replace(settings, phrase_list=_load_phrases(settings.phrase_list_file))
    if settings.prices_file is not None:
        try:
            settings = _replace(settings, prices=load_prices(settings.prices_file))
        except ValueError as exc:
            raise ConfigError(f"cannot use --prices: {exc}") from None
    if not settings.endpoint and not settings.demo:
        settings = _replace(settings, demo=True)
    return _with_theme(settings, environ)


PHRASE_LIMIT = 500
"""Most phrases a --phrase-list file may hold (the service's documented list is short)."""


def _load_phrases(path: Path) -> tuple[str, ...]:
    """One phrase a line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(f"cannot use --phrase-list {path}: {reason}") from None
    lines = (line.strip() for line in text.splitlines())
    phrases = tuple(line for line in lines if line and not line.startswith("#"))
    if not phrases:
        raise ConfigError(f"cannot use --phrase-list {path}: it holds no phrase")
    if len(phrases) > PHRASE_LIMIT:
        raise ConfigError(
            f"cannot use --phrase-list {path}: {len(phrases)} phrases, at most {PHRASE_LIMIT}"
        )
    return phrases


THEMES = {"dark": "textual-dark", "light": "textual-light", "high-contrast": "high-contrast"}
"""--theme's names -> Textual's theme names (the ansi-* ones are Textual's own names)."""


def _with_theme(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """--theme, else the theme kept from an earlier run."""
    path = preferences_path(environ)
    if settings.theme is not None:
        names = next(opt.choices for opt in OPTIONS if opt.dest == "theme") or ()
        if settings.theme not in names:
            raise ConfigError(
                f"VOICELIVE_TUI_THEME must be one of {', '.join(names)}, got {settings.theme!r}"
            )
        theme = THEMES.get(settings.theme, settings.theme)
        return _replace(settings, theme=theme, theme_given=True, preferences_file=path)
    return _replace(settings, theme=load_preferences(path).get("theme"), preferences_file=path)


def _replace(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


CONVERT_HINT = "convert it with: sox IN.wav -b 16 OUT.wav"


def input_wav_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the microphone (a 8/16/24/32-bit PCM WAV), or None."""
    if not path.exists():
        return "file not found"
    if not path.is_file():
        return "not a file"
    try:
        if path.stat().st_size == 0:
            return "the file is empty"
        with wave.open(str(path), "rb") as wav:
            width, frames = wav.getsampwidth(), wav.getnframes()
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__
    except EOFError:
        return "not a WAV file (shorter than a WAV header)"
    except wave.Error as exc:
        if "RIFF" in str(exc) or "WAVE" in str(exc):
            return f"not a WAV file; {CONVERT_HINT}"
        if "65534" in str(exc):
            return f"WAVE_FORMAT_EXTENSIBLE files are not supported; {CONVERT_HINT}"
        return f"not a PCM WAV file ({exc}); {CONVERT_HINT}"
    if width not in (1, 2, 3, 4):
        return f"{width * 8}-bit samples are not supported; {CONVERT_HINT}"
    if frames == 0:
        return "the WAV holds no audio"
    return None


def validate(settings: Settings) -> None:
    """Raise ConfigError (one line) for anything the service would reject or we cannot do."""
    if settings.endpoint:
        parsed = urlparse(settings.endpoint)
        if parsed.scheme not in ("http", "https", "ws", "wss") or not parsed.netloc:
            raise ConfigError(
                f"endpoint must be an http(s):// or ws(s):// URL, got {settings.endpoint!r}"
            )
    if settings.echo_reference not in ECHO_REFERENCES:
        raise ConfigError(
            f"VOICELIVE_TUI_ECHO_REFERENCE must be one of {', '.join(ECHO_REFERENCES)}, "
            f"got {settings.echo_reference!r}"
        )
    if settings.credential not in ("default", "cli"):
        raise ConfigError(f"credential must be 'default' or 'cli', got {settings.credential!r}")
    if settings.agent_name and not settings.project_name:
        raise ConfigError("--agent-name needs --project-name (AZURE_VOICELIVE_PROJECT_NAME)")
    if settings.agent_id and not (settings.project_name or settings.agent_connection_string):
        raise ConfigError("--agent-id needs --project-name or --agent-connection-string")
    if settings.agent_name and settings.agent_id:
        raise ConfigError(
            "use either --agent-name (Foundry agent) or --agent-id (legacy), not both"
        )
    if settings.model and (settings.agent_name or settings.agent_id):
        raise ConfigError("--model is for model mode; it cannot be combined with an agent")
    if not 0.0 <= settings.vad_threshold <= 1.0:
        raise ConfigError(f"--vad-threshold must be between 0 and 1, got {settings.vad_threshold}")
    if not 0 <= settings.vad_prefix_ms <= 5000:
        raise ConfigError(
            f"--vad-prefix-ms must be between 0 and 5000, got {settings.vad_prefix_ms}"
        )
    if not 50 <= settings.vad_silence_ms <= 10000:
        raise ConfigError(
            f"--vad-silence-ms must be between 50 and 10000, got {settings.vad_silence_ms}"
        )
    _validate_turns(settings)
    if not 0.1 <= settings.wav_speed <= 100:
        raise ConfigError(f"--wav-speed must be between 0.1 and 100, got {settings.wav_speed:g}")
    if not 5 <= settings.block_ms <= 200:
        raise ConfigError(f"--block-ms must be between 5 and 200, got {settings.block_ms}")
    for name, value, low, high in (
        ("--handshake-timeout", settings.handshake_timeout, 0.1, 300.0),
        ("--heartbeat", settings.heartbeat, 0.1, 300.0),
        ("--retry-max", settings.retry_max, 0.05, 600.0),
    ):
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low:g} and {high:g} s, got {value:g}")
    if not 0.1 <= settings.speed <= 100:
        raise ConfigError(f"--speed must be between 0.1 and 100, got {settings.speed:g}")
    if not 1 <= settings.retry_cap <= 1000:
        raise ConfigError(f"--retry-cap must be between 1 and 1000, got {settings.retry_cap}")
    if settings.budget is not None and not settings.budget > 0:
        raise ConfigError(f"--budget must be more than 0, got {settings.budget:g}")
    if settings.exit_after_turns is not None and settings.exit_after_turns < 1:
        raise ConfigError(f"--exit-after-turns must be 1 or more, got {settings.exit_after_turns}")
    for name, wav in (("--input-wav", settings.input_wav), ("--output-wav", settings.output_wav)):
        if settings.no_audio and wav is not None:
            raise ConfigError(
                f"--no-audio is text only and would ignore {name} {wav}: use one or the other"
            )
    if settings.input_wav is not None:
        problem = input_wav_problem(settings.input_wav)
        if problem:
            raise ConfigError(f"cannot use --input-wav {settings.input_wav}: {problem}")
    if not settings.voice.strip():
        raise ConfigError("--voice must not be empty")
    _validate_tools(settings)


def _validate_turns(settings: Settings) -> None:
    """The turn detector's parameters: each belongs to some detectors and has a range."""
    problem = settings.turn_taking.problem()
    if problem:
        raise ConfigError(problem)
    semantic = settings.turn_detection in SEMANTIC_DETECTORS
    for name, given in (
        ("--vad-speech-ms", settings.vad_speech_ms is not None),
        ("--remove-filler-words", settings.remove_filler_words is not None),
    ):
        if given and not semantic:
            raise ConfigError(f"{name} is for the azure_semantic_vad detectors")
    multilingual = settings.turn_detection == "azure_semantic_vad_multilingual"
    if settings.vad_languages and not multilingual:
        raise ConfigError("--vad-languages is for --turn-detection azure_semantic_vad_multilingual")
    for name, value, low, high in (
        ("--vad-speech-ms", settings.vad_speech_ms, 0, 10_000),
        ("--eou-timeout-ms", settings.eou_timeout_ms, 0, 10_000),
    ):
        if value is not None and not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    if settings.push_to_talk and settings.no_tui and not settings.screen_reader:
        raise ConfigError("--push-to-talk needs a key to talk: the dashboard or --screen-reader")
    if settings.eou_timeout_ms is not None and settings.eou == "off":
        raise ConfigError("--eou-timeout-ms needs --eou low, medium, high or default")
    if not settings.transcription_model.strip():
        raise ConfigError("--transcription-model must not be empty")


def _validate_tools(settings: Settings) -> None:
    """--tools, --tool-command and --tool-output go together, in model mode."""
    answered = settings.tool_command is not None or settings.tool_output is not None
    if settings.tools_file is None:
        if answered:
            raise ConfigError("--tool-command and --tool-output need --tools FILE")
        return
    if settings.mode != "model":
        raise ConfigError("--tools is for model mode; an agent's tools are defined by the agent")
    if settings.tool_command is not None and settings.tool_output is not None:
        raise ConfigError("use --tool-command or --tool-output, not both")
    if settings.tool_command is not None:
        try:
            argv = command_argv(settings.tool_command)
        except ValueError as exc:
            raise ConfigError(f"cannot parse --tool-command: {exc}") from None
        if not argv:
            raise ConfigError("--tool-command must not be empty")
        if shutil.which(argv[0]) is None:
            raise ConfigError(f"--tool-command: program not found: {argv[0]}")
    if settings.tool_output is not None:
        try:
            json.loads(settings.tool_output)
        except ValueError:
            raise ConfigError("--tool-output must be JSON, e.g. '{\"ok\": true}'") from None


def _validate_tool_answers(settings: Settings) -> None:
    """Function tools (once the file is loaded) need something to answer their calls."""
    answered = settings.tool_command is not None or settings.tool_output is not None
    if not answered and has_functions(settings.tools):
        raise ConfigError("--tools needs --tool-command CMD or --tool-output JSON")
