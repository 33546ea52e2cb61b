"""The voicelive-tui command: parse, validate, pick console or dashboard, map exit codes."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from voicelive_tui.config import ConfigError, Settings, build_parser, settings_from_args
from voicelive_tui.errors import EXIT_AUDIO, EXIT_CONFIG, EXIT_OK, VoiceLiveError
from voicelive_tui.logs import make_log_dir
from voicelive_tui.platform_support import linux_only, log_privacy, run_loop
from voicelive_tui.safe_text import displayable

PROG = "voicelive-tui"
YOUNG_GC_THRESHOLD = 10_000
"""Allocations between the garbage collector's young collections (Python's default: 700).

At 700 the dashboard's short-lived objects (Textual's messages, strips and segments, the
SDK's events) lived through two young collections and were promoted, so a full collection
of the whole heap (Textual, the SDK, numpy: about 60 ms) came every few seconds. Measured
over a minute of the demo with typed turns: full collections 12 -> 0, the collector's CPU
1.0 -> 0.25 s (about 1.2 % of a core); the young ones cost the same in all."""


def fail(message: str, code: int) -> int:
    """Print one line on stderr and return the exit code."""
    print(f"{PROG}: error: {displayable(message, one_line=True)}", file=sys.stderr)
    return code


def load_settings(argv: Sequence[str] | None) -> Settings:
    """Settings from the command line, the environment and the .env file."""
    args = build_parser(PROG).parse_args(argv)
    return settings_from_args(args, os.environ)


def no_dashboard_reason(env: Mapping[str, str]) -> str:
    """Why the dashboard cannot draw here ('' when it can): no terminal, or TERM=dumb."""
    term = env.get("TERM", "")
    if term in ("", "dumb", "unknown"):
        return f"TERM={term or '(unset)'} cannot show the dashboard"
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "no terminal on standard input and output"
    return ""


def forwarded_audio(settings: Settings) -> Settings:
    """Set up a forwarded PulseAudio server (``PULSE_SERVER``, before PortAudio starts);
    the settings say so, and why it cannot be used when the run needs sound devices."""
    from voicelive_tui.audio import pulse

    elsewhere = linux_only("PulseAudio forwarding over SSH")
    if elsewhere:
        if os.environ.get("PULSE_SERVER"):
            print(f"{PROG}: {elsewhere}; PULSE_SERVER is ignored", file=sys.stderr, flush=True)
        return settings
    server = pulse.prepare(os.environ)
    if server is None:
        return settings
    # A WAV file on either side means no sound devices at all (see runner.build_audio).
    devices_needed = not settings.no_audio and not (settings.input_wav or settings.output_wav)
    problem = (pulse.problem(os.environ, server) or "") if devices_needed else ""
    return replace(settings, pulse_forwarded=True, audio_problem=problem)


def replay(settings: Settings) -> int:
    """``--replay``: load the log (ConfigError with one line if it is not one), show it."""
    from voicelive_tui.replay import load_replay

    loaded = load_replay(settings.replay or Path(), settings.record)
    why = no_dashboard_reason(os.environ)
    if why:
        return fail(f"--replay needs the dashboard: {why}", EXIT_CONFIG)
    from voicelive_tui.ui.app import run_replay

    return run_replay(settings, loaded)


def start(argv: Sequence[str] | None) -> Settings | int:
    """Everything before a session: the settings, or the exit status of a run that needs
    none (a bad flag, ``--save-pulse-cookie``, ``--list-devices``, ``--replay``)."""
    try:
        settings = load_settings(argv)
    except ConfigError as exc:
        return fail(str(exc), EXIT_CONFIG)
    if settings.save_pulse_cookie:
        elsewhere = linux_only("--save-pulse-cookie (PulseAudio forwarding over SSH)")
        if elsewhere:
            return fail(elsewhere, EXIT_CONFIG)
        from voicelive_tui.audio.pulse import PulseSetupError, save_cookie

        try:
            path = save_cookie(sys.stdin.buffer, os.environ)
        except PulseSetupError as exc:
            return fail(str(exc), EXIT_CONFIG)
        except OSError as exc:
            return fail(f"cannot save the PulseAudio cookie: {exc.strerror}", EXIT_CONFIG)
        print(f"Saved the PulseAudio cookie in {path} (mode 600).")
        return EXIT_OK
    if settings.replay is not None:
        return replay(settings)
    settings = forwarded_audio(settings)
    if settings.list_devices:
        from voicelive_tui.audio.devices import list_devices_text

        if settings.audio_problem:
            print(f"Audio server: {settings.audio_problem}")
            return EXIT_AUDIO
        print(list_devices_text())
        return EXIT_OK
    if settings.audio_problem and not settings.demo_requested:
        return fail(settings.audio_problem + " (or run with --demo)", EXIT_AUDIO)
    try:
        make_log_dir(settings.log_dir)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return fail(f"cannot write logs in {settings.log_dir}: {reason}", EXIT_CONFIG)
    private, note = log_privacy(settings.log_dir)
    if not private:
        print(f"{PROG}: note: {note}", file=sys.stderr, flush=True)
    if not settings.no_tui and not settings.screen_reader and not settings.echo_check:
        why = no_dashboard_reason(os.environ)
        if why:
            print(f"{PROG}: {why}: console mode (as --no-tui)", file=sys.stderr, flush=True)
            settings = replace(settings, no_tui=True)
    return settings


async def echo_check(settings: Settings) -> int:
    """``--echo-check``: play a probe, listen, print what was heard and what to do."""
    from voicelive_tui.audio.base import AudioError
    from voicelive_tui.audio.echo_check import run_echo_check
    from voicelive_tui.runner import build_audio

    try:
        report = await run_echo_check(build_audio(settings))
    except AudioError as exc:
        return fail(str(exc), EXIT_AUDIO)
    for line in report.lines():
        print(line)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the voicelive-tui console script."""
    # The process's own: not in console_main, which runs in another program's process.
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        started = start(argv)
        if isinstance(started, int):
            return started
        if started.echo_check:
            return run_loop(echo_check(started))
        if started.screen_reader:
            from voicelive_tui.reader import run_screen_reader

            return run_loop(run_screen_reader(started))
        if started.no_tui:
            from voicelive_tui.console import run_console

            return run_loop(run_console(started))
        from voicelive_tui.ui.app import run_app

        return run_app(started)
    except VoiceLiveError as exc:  # config, auth, connection: each knows its exit status
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return EXIT_OK


async def console_main(argv: Sequence[str]) -> int:
    """:func:`main` for console mode on a running event loop (another program's, or a
    test's beside its emulator): the same start, lines and exit statuses."""
    try:
        started = start(argv)
        if isinstance(started, int):
            return started
        if started.echo_check:
            return await echo_check(started)
        if not started.no_tui:
            return fail("console_main runs console mode only (add --no-tui)", EXIT_CONFIG)
        from voicelive_tui.console import run_console

        return await run_console(started)
    except VoiceLiveError as exc:
        return fail(str(exc), exc.exit_code)


def exit_process(code: int) -> NoReturn:
    """End the process with ``code``. PortAudio is terminated first, within a bound; when
    it is stuck (the sound server died under a stream: libpulse deadlocked), terminating it
    would block for ever, and so might the interpreter's own exit: the logs are flushed
    and closed (the terminal was restored when the front end stopped) and the process
    ends at once (``os._exit``)."""
    portaudio = sys.modules.get("voicelive_tui.audio.portaudio")
    if portaudio is not None and not portaudio.terminate():
        logging.getLogger(__name__).warning("PortAudio is stuck: exiting without it")
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def entry() -> None:
    exit_process(main())
