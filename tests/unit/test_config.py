"""Settings: flag > environment > .env precedence, aliases, validation through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voicelive_tui import cli
from voicelive_tui.audio.backends import WavBackend
from voicelive_tui.config.resolve import (
    DEFAULT_VOICE,
    Settings,
    build_parser,
    settings_from_args,
)
from voicelive_tui.errors import EXIT_CONFIG
from voicelive_tui.runner import build_audio


@pytest.fixture
def clean_env(tmp_path: Path) -> Path:
    """The test's working directory: no .env and no Voice Live variables from the
    developer's shell (tests/conftest.py runs every test so)."""
    return tmp_path


def settings(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    return settings_from_args(build_parser().parse_args(argv), environ or {})


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Exit code of the command and its stderr lines."""
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err.splitlines()


# -- precedence ------------------------------------------------------------------------


def test_flag_beats_environment_beats_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text(
        "AZURE_VOICELIVE_ENDPOINT=https://dotenv.services.ai.azure.com/\n"
        "AZURE_VOICELIVE_VOICE=dotenv-voice\n"
        "AZURE_VOICELIVE_MODEL=dotenv-model\n"
    )
    environ = {
        "AZURE_VOICELIVE_ENDPOINT": "https://environ.services.ai.azure.com/",
        "AZURE_VOICELIVE_VOICE": "environ-voice",
    }
    s = settings(
        ["--env-file", str(env_file), "--endpoint", "https://flag.services.ai.azure.com/"],
        environ,
    )
    assert s.endpoint == "https://flag.services.ai.azure.com/"  # flag wins
    assert s.voice == "environ-voice"  # environment beats .env
    assert s.model == "dotenv-model"  # .env beats the default


def test_default_dot_env_in_working_directory_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "AZURE_VOICELIVE_ENDPOINT=https://dotenv.services.ai.azure.com/\n"
        "AZURE_VOICELIVE_API_KEY=from-dotenv\n"
        "AZURE_VOICELIVE_LOG_DIR=dotenv-logs\n"
    )
    s = settings([], {"AZURE_VOICELIVE_API_KEY": "from-environ"})
    assert s.endpoint == "https://dotenv.services.ai.azure.com/"
    assert s.api_key == "from-environ"
    assert s.log_dir == Path("dotenv-logs")
    assert not s.demo


def test_named_env_file_replaces_the_default_one(clean_env: Path) -> None:
    (clean_env / ".env").write_text("AZURE_VOICELIVE_VOICE=default-file-voice\n")
    other = clean_env / "other.env"
    other.write_text("AZURE_VOICELIVE_MODEL=other-model\n")
    s = settings(["--env-file", str(other)])
    assert s.model == "other-model"
    assert s.voice == DEFAULT_VOICE


def test_missing_default_env_file_is_fine() -> None:
    s = settings([])
    assert s.voice == DEFAULT_VOICE
    assert (s.vad_threshold, s.vad_prefix_ms, s.vad_silence_ms) == (0.5, 300, 500)
    assert s.echo_cancellation and s.noise_suppression and s.greeting
    assert s.log_dir == Path("logs")
    assert s.credential == "default"


def test_environment_is_read_by_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", "not a url")
    code, err = run_cli(capsys)
    assert code == EXIT_CONFIG
    assert err == [
        "voicelive-tui: error: endpoint must be an http(s):// or ws(s):// URL, got 'not a url'"
    ]


def test_empty_environment_value_falls_through_to_env_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text("AZURE_VOICELIVE_VOICE=alloy\n")
    assert settings([], {"AZURE_VOICELIVE_VOICE": ""}).voice == "alloy"


# -- aliases ---------------------------------------------------------------------------


def test_sdk_sample_env_names_are_used_when_ours_are_unset() -> None:
    s = settings(
        [],
        {
            "AGENT_NAME": "sample-agent",
            "AGENT_PROJECT_NAME": "sample-project",
            "AGENT_VERSION": "7",
            "AGENT_CONVERSATION_ID": "conv_sample",
        },
    )
    assert s.mode == "agent"
    assert (s.agent_name, s.project_name, s.agent_version, s.conversation_id) == (
        "sample-agent",
        "sample-project",
        "7",
        "conv_sample",
    )


def test_our_env_names_win_over_sdk_sample_names() -> None:
    s = settings(
        [],
        {
            "AGENT_NAME": "sample-agent",
            "AZURE_VOICELIVE_AGENT_NAME": "our-agent",
            "AGENT_PROJECT_NAME": "sample-project",
            "AZURE_VOICELIVE_PROJECT_NAME": "our-project",
        },
    )
    assert (s.agent_name, s.project_name) == ("our-agent", "our-project")


def test_our_name_in_env_file_wins_over_sdk_sample_name_in_environment(
    clean_env: Path,
) -> None:
    (clean_env / ".env").write_text(
        "AZURE_VOICELIVE_AGENT_NAME=our-agent\nAZURE_VOICELIVE_PROJECT_NAME=our-project\n"
    )
    s = settings([], {"AGENT_NAME": "leftover-from-sample", "AGENT_PROJECT_NAME": "other"})
    assert (s.agent_name, s.project_name) == ("our-agent", "our-project")


def test_seed_flag_spellings_are_accepted() -> None:
    s = settings(
        [
            "--agent_id",
            "asst_123",
            "--foundry_project_name",
            "proj",
            "--api-key",
            "k",
            "--use-token-credential",
        ]
    )
    assert s.mode == "legacy-agent"
    assert (s.agent_id, s.project_name) == ("asst_123", "proj")
    assert s.use_token_credential
    assert not s.uses_api_key  # the seed's switch means Entra ID even with a key


def test_switches_turn_off_what_the_seed_turns_on() -> None:
    s = settings(["--no-echo-cancellation", "--no-noise-suppression", "--no-greeting", "--verbose"])
    assert not s.echo_cancellation
    assert not s.noise_suppression
    assert not s.greeting
    assert s.verbose


def test_no_endpoint_means_demo_mode() -> None:
    assert settings([]).demo
    assert not settings(["--endpoint", "https://x.services.ai.azure.com/"]).demo


def test_credential_from_environment_is_case_insensitive() -> None:
    assert settings([], {"AZURE_VOICELIVE_CREDENTIAL": "CLI"}).credential == "cli"


# -- validation: one line on stderr, exit 2 --------------------------------------------

VALIDATION_CASES = [
    (
        ["--endpoint", "ftp://example.com"],
        "endpoint must be an http(s):// or ws(s):// URL, got 'ftp://example.com'",
    ),
    (
        ["--endpoint", "example.services.ai.azure.com"],
        "endpoint must be an http(s):// or ws(s):// URL, got 'example.services.ai.azure.com'",
    ),
    (["--agent-name", "a"], "--agent-name needs --project-name (AZURE_VOICELIVE_PROJECT_NAME)"),
    (["--agent-id", "asst_1"], "--agent-id needs --project-name or --agent-connection-string"),
    (
        ["--model", "gpt-realtime", "--agent-name", "a", "--project-name", "p"],
        "--model is for model mode; it cannot be combined with an agent",
    ),
    (
        ["--model", "gpt-realtime", "--agent-id", "a", "--project-name", "p"],
        "--model is for model mode; it cannot be combined with an agent",
    ),
    (
        ["--agent-name", "a", "--agent-id", "b", "--project-name", "p"],
        "use either --agent-name (Foundry agent) or --agent-id (legacy), not both",
    ),
    (["--vad-threshold", "1.5"], "--vad-threshold must be between 0 and 1, got 1.5"),
    (["--vad-threshold", "-0.1"], "--vad-threshold must be between 0 and 1, got -0.1"),
    (["--vad-prefix-ms", "-1"], "--vad-prefix-ms must be between 0 and 5000, got -1"),
    (["--vad-prefix-ms", "5001"], "--vad-prefix-ms must be between 0 and 5000, got 5001"),
    (["--vad-silence-ms", "49"], "--vad-silence-ms must be between 50 and 10000, got 49"),
    (["--vad-silence-ms", "10001"], "--vad-silence-ms must be between 50 and 10000, got 10001"),
    (["--vad-threshold", "abc"], "--vad-threshold must be a number, got 'abc'"),
    (["--vad-silence-ms", "half"], "--vad-silence-ms must be a whole number, got 'half'"),
    (["--vad-prefix-ms", "2.5"], "--vad-prefix-ms must be a whole number, got '2.5'"),
    (["--env-file", "does-not-exist.env"], "env file not found: does-not-exist.env"),
    (["--voice", " "], "--voice must not be empty"),
    (["--exit-after-turns", "0"], "--exit-after-turns must be 1 or more, got 0"),
    (["--wav-speed", "0"], "--wav-speed must be between 0.1 and 100, got 0"),
    (["--wav-speed", "101"], "--wav-speed must be between 0.1 and 100, got 101"),
    (
        ["--no-audio", "--input-wav", "in.wav"],
        "--no-audio is text only and would ignore --input-wav in.wav: use one or the other",
    ),
    (
        ["--no-audio", "--output-wav", "out.wav"],
        "--no-audio is text only and would ignore --output-wav out.wav: use one or the other",
    ),
]


@pytest.mark.parametrize(("argv", "message"), VALIDATION_CASES)
def test_validation_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, err = run_cli(capsys, *argv)
    assert code == EXIT_CONFIG
    assert err == [f"voicelive-tui: error: {message}"]


def test_wav_speed_paces_the_wav_backend(tmp_path: Path) -> None:
    out = str(tmp_path / "out.wav")
    assert build_audio(settings(["--output-wav", out])).speed == 1.0  # real time by default
    fast = build_audio(settings(["--output-wav", out, "--wav-speed", "8"]))
    assert isinstance(fast, WavBackend) and fast.speed == 8.0


def test_agent_id_with_connection_string_instead_of_project_is_valid() -> None:
    s = settings(["--agent-id", "asst_1", "--agent-connection-string", "region;sub;rg;hub"])
    assert s.mode == "legacy-agent"


def test_env_file_that_is_a_directory_is_unreadable(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    (clean_env / "envdir").mkdir()
    code, err = run_cli(capsys, "--env-file", "envdir")
    assert code == EXIT_CONFIG
    assert err == ["voicelive-tui: error: env file is not readable: envdir"]


def test_default_env_file_that_cannot_be_decoded_is_an_error(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    (clean_env / ".env").write_bytes(b"AZURE_VOICELIVE_VOICE=\xff\xfe\xfa\n")
    code, err = run_cli(capsys)
    assert code == EXIT_CONFIG
    assert len(err) == 1
    assert err[0].startswith("voicelive-tui: error: env file is not readable: .env")


def test_bad_credential_from_environment_is_validated_like_the_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_VOICELIVE_CREDENTIAL", "managed")
    code, err = run_cli(capsys)
    assert code == EXIT_CONFIG
    assert err == ["voicelive-tui: error: credential must be 'default' or 'cli', got 'managed'"]


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "--no-such-flag")
    assert code == EXIT_CONFIG
    assert len(err) == 1
    assert "--no-such-flag" in err[0] and "Traceback" not in err[0]


def test_bad_choice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "--credential", "managed")
    assert code == EXIT_CONFIG
    assert len(err) == 1
    assert "--credential" in err[0]


# -- --help ------------------------------------------------------------------------------

# The issue's table: flag -> env variable(s) (None: no env variable).
ISSUE_TABLE: dict[str, tuple[str, ...]] = {
    "--endpoint": ("AZURE_VOICELIVE_ENDPOINT",),
    "--api-key": ("AZURE_VOICELIVE_API_KEY",),
    "--credential": ("AZURE_VOICELIVE_CREDENTIAL",),
    "--model": ("AZURE_VOICELIVE_MODEL",),
    "--instructions": ("AZURE_VOICELIVE_INSTRUCTIONS",),
    "--agent-name": ("AZURE_VOICELIVE_AGENT_NAME",),
    "--agent-version": ("AZURE_VOICELIVE_AGENT_VERSION",),
    "--project-name": ("AZURE_VOICELIVE_PROJECT_NAME",),
    "--conversation-id": ("AZURE_VOICELIVE_AGENT_CONVERSATION_ID",),
    "--foundry-resource-override": ("AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE",),
    "--auth-identity-client-id": ("AZURE_VOICELIVE_AGENT_AUTH_IDENTITY_CLIENT_ID",),
    "--api-version": ("AZURE_VOICELIVE_API_VERSION",),
    "--agent-id": ("AZURE_VOICELIVE_AGENT_ID",),
    "--agent-connection-string": ("AZURE_VOICELIVE_AGENT_CONNECTION_STRING",),
    "--voice": ("AZURE_VOICELIVE_VOICE",),
    "--vad-threshold": (),
    "--vad-prefix-ms": (),
    "--vad-silence-ms": (),
    "--no-echo-cancellation": (),
    "--no-noise-suppression": (),
    "--no-greeting": (),
    "--log-dir": ("AZURE_VOICELIVE_LOG_DIR",),
    "--verbose": (),
    "--demo": (),
    "--no-tui": (),
}
DEFAULTS_IN_HELP = {
    "--voice": "en-US-Ava:DragonHDLatestNeural",
    "--vad-threshold": "0.5",
    "--vad-prefix-ms": "300",
    "--vad-silence-ms": "500",
    "--log-dir": "logs",
    "--credential": "default",
}


def help_entries(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Each option's help entry, keyed by every flag spelling, whitespace removed."""
    monkeypatch.setenv("COLUMNS", "80")  # wrapped, as in a normal terminal
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    entries: dict[str, str] = {}
    flags: list[str] = []
    for line in text.split("options:", 1)[1].splitlines():
        if re.match(r"^  -", line):
            invocation = line.strip().split("  ")[0]
            flags = re.findall(r"--[\w-]+", invocation)
            for flag in flags:
                entries[flag] = line
        elif line.startswith("    "):
            for flag in flags:
                entries[flag] += line
    # argparse wraps at spaces and after hyphens; compare without any whitespace.
    return {flag: re.sub(r"\s+", "", entry) for flag, entry in entries.items()}


def test_help_lists_every_flag_with_its_env_variable_and_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = help_entries(capsys, monkeypatch)
    missing = [flag for flag in ISSUE_TABLE if flag not in entries]
    assert not missing, f"--help lacks {missing}"
    for flag, envs in ISSUE_TABLE.items():
        for env in envs:
            assert re.search(rf"\[env:[^\]]*\b{env}\b", entries[flag]), (flag, env)
    for flag, default in DEFAULTS_IN_HELP.items():
        assert f"(default:{default})" in entries[flag], flag


def test_help_lists_the_seed_spellings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = help_entries(capsys, monkeypatch)
    assert {"--agent_id", "--foundry_project_name", "--use-token-credential"} <= set(entries)


# -- accessibility switches (issue 27) ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, False),
        (["--screen-reader"], {}, True),
        ([], {"VOICELIVE_TUI_SCREEN_READER": "1"}, True),
        ([], {"VOICELIVE_TUI_SCREEN_READER": "yes"}, True),
        ([], {"VOICELIVE_TUI_SCREEN_READER": "0"}, False),
    ],
)
def test_screen_reader_from_the_flag_or_the_environment(
    argv: list[str], environ: dict[str, str], expected: bool
) -> None:
    assert settings(argv, environ).screen_reader is expected


def test_a_bad_screen_reader_value_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICELIVE_TUI_SCREEN_READER", "maybe")
        code, err = run_cli(capsys, "--demo")
    assert code == EXIT_CONFIG
    assert err == ["voicelive-tui: error: VOICELIVE_TUI_SCREEN_READER must be 1 or 0, got 'maybe'"]


def test_a_bad_theme_in_the_environment_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICELIVE_TUI_THEME", "purple")
        code, err = run_cli(capsys, "--demo")
    assert code == EXIT_CONFIG
    assert err == [
        "voicelive-tui: error: VOICELIVE_TUI_THEME must be one of dark, light, ansi-dark,"
        " ansi-light, high-contrast, got 'purple'"
    ]
