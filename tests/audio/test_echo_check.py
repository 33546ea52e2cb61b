"""``voicelive-tui --echo-check`` on real devices (PulseAudio null sinks): it hears the
loopback's echo at the loopback's delay, and hears nothing without one. No session."""

from __future__ import annotations

import asyncio

import pytest

from tests import helpers
from tests.audio.leak import loopback

pytestmark = [pytest.mark.realaudio, pytest.mark.slow]  # real time: 6 to 8 s each


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


async def test_the_echo_check_from_the_dashboard_mutes_the_microphone_meanwhile(
    pulse, emulator_factory, tmp_path
):
    """The palette's echo check, in a live session: the report is a notice, the probe never
    reaches the service as speech, and the microphone is live again afterwards."""
    from voicelive_tui import runner
    from voicelive_tui.audio.engine import SoundDeviceBackend
    from voicelive_tui.config import Settings
    from voicelive_tui.logs import RunLogs
    from voicelive_tui.updates import Notice, Update

    emu = await emulator_factory()
    settings = Settings(
        endpoint=emu.endpoint,
        api_key="test-key",
        greeting=False,
        log_dir=tmp_path / "logs",
        input_device="pulse",
        output_device="pulse",
    )
    notices: list[str] = []
    with loopback(pulse), RunLogs(settings.log_dir) as logs:
        backend = SoundDeviceBackend("pulse", "pulse")
        async with runner.open_session(settings, logs, audio=backend) as opened:
            session = opened.session

            def seen(update: Update) -> None:
                if isinstance(update, Notice):
                    notices.append(update.text)

            session.subscribe(seen)
            running = asyncio.create_task(session.run())
            try:
                await helpers.wait_until(lambda: session.dialogue.capture_task is not None, 30)
                await session.echo_check()
            finally:
                session.quit()
                await running
            conv = session.conversation
    report = next(n for n in notices if n.startswith("Echo check:"))
    assert "Microphone hears the speaker: yes" in report, report
    assert "Echo delay: 1" in report  # 150 ms, give or take
    assert not conv.muted
    assert conv.received["input_audio_buffer.speech_started"] == 0  # muted meanwhile
