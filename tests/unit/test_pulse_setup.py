"""audio/pulse.py: which PULSE_SERVER is forwarded, the client configuration written for
it, why a server cannot be used, and the saved cookie (issue 11)."""

from __future__ import annotations

import io
import os
import socket
import stat
from pathlib import Path

import pytest

from voicelive_tui.audio import pulse


def test_only_a_server_other_than_this_machines_own_counts_as_forwarded(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    own = tmp_path / "pulse" / "native"
    assert pulse.forwarded_server(env) is None
    assert pulse.forwarded_server({**env, "PULSE_SERVER": f"unix:{own}"}) is None
    assert pulse.forwarded_server({**env, "PULSE_SERVER": str(own)}) is None
    away = "unix:/tmp/pulse-someone.sock"
    assert pulse.forwarded_server({**env, "PULSE_SERVER": away}) == away
    assert pulse.forwarded_server({**env, "PULSE_SERVER": "tcp:laptop:4713"}) == "tcp:laptop:4713"
    assert pulse.forwarded_server({**env, "PULSE_SERVER": f"{away} unix:{own}"}) == away


def test_prepare_writes_a_private_client_config_with_the_saved_cookie(tmp_path: Path) -> None:
    cookie = tmp_path / "config" / "voicelive-tui" / "pulse-cookie"
    cookie.parent.mkdir(parents=True)
    cookie.write_bytes(bytes(256))
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PULSE_SERVER": "unix:/tmp/x.sock"}
    assert pulse.prepare(env) == "unix:/tmp/x.sock"
    conf = Path(env["PULSE_CLIENTCONFIG"]).read_text()
    assert "enable-shm = no" in conf and "enable-memfd = no" in conf
    assert "autospawn = no" in conf
    assert f"cookie-file = {cookie}" in conf


def test_prepare_leaves_a_local_server_and_the_users_own_config_alone(tmp_path: Path) -> None:
    local: dict[str, str] = {}
    assert pulse.prepare(local) is None and local == {}
    own = {"PULSE_SERVER": "unix:/tmp/x.sock", "PULSE_CLIENTCONFIG": "/etc/mine.conf"}
    pulse.prepare(own)
    assert own["PULSE_CLIENTCONFIG"] == "/etc/mine.conf"


def test_a_missing_or_dead_socket_says_what_to_run(tmp_path: Path) -> None:
    missing = pulse.problem({}, f"unix:{tmp_path / 'none.sock'}")
    assert missing is not None and "no socket" in missing and "ssh -t" in missing
    stale = tmp_path / "stale.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(stale))
    sock.close()  # bound, never listening: what an ended ssh -R leaves behind
    dead = pulse.problem({}, f"unix:{stale}")
    assert dead is not None and "refused" in dead and "\n" not in dead


def test_save_cookie_keeps_exactly_256_bytes_private(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    path = pulse.save_cookie(io.BytesIO(os.urandom(256)), env)
    assert path == tmp_path / "voicelive-tui" / "pulse-cookie"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for wrong in (b"", os.urandom(10), os.urandom(300)):
        with pytest.raises(pulse.PulseSetupError, match="256 bytes"):
            pulse.save_cookie(io.BytesIO(wrong), env)


def test_the_hint_is_the_readme_recipe() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    recipe = readme.split("<!-- ssh-recipe -->", 1)[1].split("<!-- /ssh-recipe -->", 1)[0]
    command = pulse.FORWARD_HINT.removeprefix("on your laptop run: ")
    assert command in recipe
    assert pulse.COOKIE_HINT.removeprefix("send your laptop's PulseAudio cookie once: ") in recipe


def test_a_wav_microphone_needs_no_sound_server(tmp_path: Path, monkeypatch) -> None:
    """--input-wav (or --output-wav) uses no device: an unreachable PULSE_SERVER does not
    stop the run, and the WAV is still the microphone."""
    from voicelive_tui import cli
    from voicelive_tui.config import Settings

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'none.sock'}")
    monkeypatch.delenv("PULSE_CLIENTCONFIG", raising=False)
    wav_run = cli.forwarded_audio(Settings(input_wav=tmp_path / "in.wav"))
    assert wav_run.pulse_forwarded and wav_run.audio_problem == ""
    devices_run = cli.forwarded_audio(Settings())
    assert "not reachable" in devices_run.audio_problem
