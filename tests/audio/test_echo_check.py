"""``voicelive-tui --echo-check`` on real devices (PulseAudio null sinks): it hears the
loopback's echo at the loopback's delay, and hears nothing without one. No session."""

from __future__ import annotations

import pytest

from tests import helpers
from tests.audio.leak import loopback

pytestmark = pytest.mark.realaudio


async def echo_check(pulse, tmp_path) -> tuple[int, str, str]:
    env = {k: v for k, v in pulse.env.items() if k.startswith(("PULSE", "XDG_RUNTIME"))}
    return await helpers.run_cli(
        "--echo-check",
        "--log-dir",
        str(tmp_path / "logs"),
        "--input-device",
        "pulse",
        "--output-device",
        "pulse",
        env=env,
    )


@pytest.mark.parametrize("latency_ms", [150, 300])
async def test_the_echo_check_measures_the_loopback_s_delay(pulse, tmp_path, latency_ms):
    with loopback(pulse, latency_ms):
        code, out, err = await echo_check(pulse, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Microphone hears the speaker: yes"), out
    delay = float(lines[1].split()[2])
    assert abs(delay - latency_ms) <= 20, out
    assert "use --echo-reference client" in out
    assert err == ""


async def test_without_a_leak_the_echo_check_hears_nothing(pulse, tmp_path):
    code, out, err = await echo_check(pulse, tmp_path)
    assert code == 0, err
    assert out.splitlines()[0].startswith("Microphone hears the speaker: no"), out
    assert "does not hear the speaker" in out
