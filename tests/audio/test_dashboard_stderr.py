"""The dashboard in a real terminal (tmux) while its sound server dies and returns:
PortAudio's own diagnostics ("Expression '...' failed in 'src/hostapi/alsa/
pa_linux_alsa.c'"), which it prints straight to file descriptor 2, never reach the
screen; they are kept in the technical log instead (issue 25)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CLI, child_env
from tests.ssh.conftest import EMULATOR_KEY, emulator_endpoint  # noqa: F401 (a fixture)
from tests.ssh.test_pulse_forward import wait_until
from tests.ssh.tmux import Pane, missing_tmux

pytestmark = pytest.mark.realaudio


# Slow: a dashboard process in tmux, a sound server stopped and started in real time.
@pytest.mark.slow
def test_portaudio_prints_nothing_over_the_dashboard_when_the_server_dies(
    pulse_lab,
    emulator_endpoint: Callable[..., str],  # noqa: F811
    tmp_path: Path,
) -> None:
    if missing_tmux():
        pytest.skip(missing_tmux())
    first = pulse_lab.start()
    endpoint = emulator_endpoint()
    logs = tmp_path / "logs"
    where = tmp_path / "tmux"
    where.mkdir()
    command = shlex.join(
        [*CLI, "--endpoint", endpoint, "--api-key", EMULATOR_KEY, "--no-greeting"]
        + ["--log-dir", str(logs)]
    )
    pane = Pane(command, size=(160, 48), env=child_env(first.env), where=where)
    raw = tmp_path / "terminal.raw"

    def logged(text: str, count: int = 1) -> bool:
        found = list(logs.glob("*_voicelive.log"))
        return bool(found) and found[0].read_text(errors="replace").count(text) >= count

    screens = []
    try:
        pane.pipe(raw)
        pane.wait_for("ready", 40)
        wait_until(lambda: logged("Started audio capture"), 20, "audio started")
        first.stop()
        wait_until(lambda: logged("Audio device lost"), 20, "the loss noticed")
        screens.append(pane.screen())
        second = pulse_lab.start()
        wait_until(lambda: logged("Audio back"), 20, "audio back")
        second.stop()  # and once more
        wait_until(lambda: logged("Audio device lost", 2), 20, "the second loss noticed")
        screens.append(pane.screen())
        pane.keys("q")
        pane.wait_for("EXIT=0", 20)
    finally:
        pane.close()
    written = raw.read_bytes().decode(errors="replace")
    assert "Expression" not in written and "pa_linux_alsa" not in written, screens
    assert "ALSA lib" not in written
    technical = "\n".join(p.read_text(errors="replace") for p in logs.glob("*_voicelive.log"))
    assert "stderr: Expression" in technical  # kept where a developer can read them
