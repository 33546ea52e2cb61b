"""StderrCapture: while the dashboard draws on standard error, what a C library writes to
file descriptor 2 goes to the technical log, and the dashboard still reaches the terminal."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from voicelive_tui.ui.stderr_capture import StderrCapture

PORTAUDIO_LINE = (
    b"Expression 'alsa_snd_pcm_poll_descriptors_revents( self->pcm, pfds, self->nfds, "
    b"&revents )' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665\n"
)


def test_fd_2_goes_to_the_log_and_the_terminal_copy_still_draws(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voicelive_tui.stderr")
    capture = StderrCapture()
    terminal = capture.start()
    assert terminal is not None
    os.write(2, PORTAUDIO_LINE)  # as PortAudio's fprintf(stderr) does
    os.write(2, b"\x1b[2J a control sequence\n")
    terminal.write("the dashboard's frame")
    terminal.flush()
    capture.stop()
    os.write(2, b"after the dashboard\n")
    out, err = capfd.readouterr()
    assert "pa_linux_alsa" not in err and "a control sequence" not in err
    assert "the dashboard's frame" in err and "after the dashboard" in err
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0].startswith("stderr: Expression 'alsa_snd_pcm_poll_descriptors_revents(")
    assert "\x1b" not in logged[1] and logged[1].endswith("[2J a control sequence")
    assert capture.lines == 2


def test_stopping_twice_or_without_starting_is_harmless() -> None:
    capture = StderrCapture()
    capture.stop()
    assert capture.start() is not None
    assert capture.start() is None  # already capturing
    capture.stop()
    capture.stop()


def test_a_line_printed_for_good_is_logged_now_and_then_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PortAudio#1037: a stuck PortAudio's callback thread prints the same lines thousands
    of times a second until the process ends; the log keeps a few, counted."""
    caplog.set_level(logging.INFO, logger="voicelive_tui.stderr")
    capture = StderrCapture()
    assert capture.start() is not None
    looping = b"Expression 'self->capture.ready || self->playback.ready' failed\n"
    os.write(2, (PORTAUDIO_LINE + looping) * 1000)
    capture.stop()
    logged = [r.getMessage() for r in caplog.records]
    assert capture.lines == 2000
    assert len(logged) == 8  # each line: the 1st, 10th, 100th and 1000th time
    assert logged[-1].startswith("stderr (1000 times so far): Expression 'self->capture")


def test_silenced_fd_2_stays_off_the_terminal_and_python_keeps_it(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """PortAudio stuck when the dashboard stops: what it prints after that never reaches
    the terminal; what Python prints (a last error line) still does."""
    capture = StderrCapture()
    before = sys.stderr
    assert capture.start() is not None
    try:
        capture.stop(silence=True)
        os.write(2, PORTAUDIO_LINE)  # PortAudio's thread, still looping
        print("voicelive-tui: the last line", file=sys.stderr)
        sys.stderr.flush()
        _out, err = capfd.readouterr()
        assert "pa_linux_alsa" not in err
        assert "the last line" in err
    finally:
        sys.stderr = before
