"""Finding PortAudio, listing devices (``--list-devices``) and naming the audio server.

``import sounddevice`` raises OSError when the PortAudio library is missing; with
PortAudio but no server or card, the device list is empty. Both end in an
:class:`~voicelive_tui.audio.base.AudioError` whose one-line message says how to get
audio, including the SSH socket-forwarding recipe (see the README, "Audio").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from voicelive_tui.platform_support import linux_only, platform_name

from .base import SAMPLE_RATE, AudioError
from .pulse import FORWARD_HINT, RECIPE

NO_AUDIO_HINT = (
    (
        "for audio install PortAudio (apt install libportaudio2) and run where a sound card "
        f"is, or over SSH forward your laptop's PulseAudio socket: {FORWARD_HINT} "
        f"(see the {RECIPE})"
    )
    if sys.platform == "linux"
    # sounddevice's wheels bundle PortAudio on Windows and macOS: no package to install
    else "for audio connect a microphone and a speaker (or headset), allow this terminal "
    "to use the microphone, and reinstall sounddevice if it still fails (pip install "
    "--force-reinstall sounddevice)"
)


def load_sounddevice() -> ModuleType:
    """Import sounddevice, or raise AudioError with the way to get audio."""
    try:
        import sounddevice
    except (OSError, ImportError) as exc:  # OSError: "PortAudio library not found"
        raise AudioError(f"no audio: {exc}; {NO_AUDIO_HINT}") from exc
    silence_alsa_errors()
    return sounddevice


_ALSA_HANDLER: object | None = None


def silence_alsa_errors() -> None:
    """Stop libasound printing ("ALSA lib pcm.c: underrun occurred") over the dashboard.

    ALSA writes its diagnostics straight to file descriptor 2, under the TUI; underruns
    are counted by the backend instead. A no-op where libasound is absent.
    """
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None:
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("asound")
    if not name:
        return
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return
    # void handler(const char *file, int line, const char *func, int err, const char *fmt, ...)
    handler_type = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )
    _ALSA_HANDLER = handler_type(lambda *_args: None)  # kept alive: ALSA holds the pointer
    lib.snd_lib_error_set_handler(_ALSA_HANDLER)


def rescan(sd: ModuleType) -> None:
    """Re-initialise PortAudio so devices (or a new PULSE_SERVER) are seen again.

    Only call when no stream of this process is open.
    """
    sd._terminate()
    sd._initialize()


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool = False
    is_default_output: bool = False


@dataclass(frozen=True)
class AudioInventory:
    """What ``--list-devices`` shows: the server in use and the devices."""

    server: str
    devices: list[DeviceInfo] = field(default_factory=list)
    error: str = ""

    @property
    def inputs(self) -> list[DeviceInfo]:
        """Devices that can record."""
        return [d for d in self.devices if d.inputs > 0]

    @property
    def outputs(self) -> list[DeviceInfo]:
        """Devices that can play."""
        return [d for d in self.devices if d.outputs > 0]


def _pactl_info(env: Mapping[str, str]) -> dict[str, str]:
    if shutil.which("pactl") is None:
        return {}
    try:
        done = subprocess.run(
            ["pactl", "info"],
            capture_output=True,
            text=True,
            timeout=2,
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    info = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def audio_server(env: Mapping[str, str] | None = None) -> str:
    """Name the sound server PortAudio reaches, e.g. 'pulseaudio 16.1 at unix:/x/sock'."""
    if linux_only("PulseAudio"):
        return f"{platform_name()}'s own sound system, through PortAudio (PulseAudio: Linux only)"
    env = os.environ if env is None else env
    info = _pactl_info(env)
    if info:
        name = info.get("Server Name", "pulse server")
        version = info.get("Server Version", "")
        where = info.get("Server String", env.get("PULSE_SERVER", ""))
        return " ".join(p for p in (name, version) if p) + (f" at {where}" if where else "")
    if env.get("PULSE_SERVER"):
        return f"PULSE_SERVER={env['PULSE_SERVER']} (not reachable)"
    return "no PulseAudio server found (ALSA or the host API directly)"


def query(sd: ModuleType) -> list[DeviceInfo]:
    """Every PortAudio device as DeviceInfo."""
    hostapis = [h["name"] for h in sd.query_hostapis()]
    default_in, default_out = _defaults(sd)
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            hostapi=hostapis[d["hostapi"]] if d["hostapi"] < len(hostapis) else "?",
            inputs=int(d["max_input_channels"]),
            outputs=int(d["max_output_channels"]),
            default_rate=float(d["default_samplerate"]),
            is_default_input=d["index"] == default_in,
            is_default_output=d["index"] == default_out,
        )
        for d in sd.query_devices()
    ]


def _defaults(sd: ModuleType) -> tuple[int, int]:
    try:
        dev_in, dev_out = sd.default.device
    except (TypeError, ValueError):
        return -1, -1
    return int(dev_in if dev_in is not None else -1), int(dev_out if dev_out is not None else -1)


def list_devices(env: Mapping[str, str] | None = None) -> AudioInventory:
    """Inventory for ``--list-devices``; never raises (errors go into ``error``)."""
    server = audio_server(env)
    try:
        sd = load_sounddevice()
    except AudioError as exc:
        return AudioInventory(server=server, error=str(exc))
    devices = query(sd)
    if not devices:
        return AudioInventory(server=server, error=f"no audio devices; {NO_AUDIO_HINT}")
    return AudioInventory(server=server, devices=devices)


def format_devices(inventory: AudioInventory) -> str:
    """Human-readable ``--list-devices`` output."""
    lines = [f"Audio server: {inventory.server}"]
    if inventory.error:
        lines.append(inventory.error)
        return "\n".join(lines)
    for title, devices, default_attr in (
        ("Inputs", inventory.inputs, "is_default_input"),
        ("Outputs", inventory.outputs, "is_default_output"),
    ):
        lines.append(f"{title}:")
        if not devices:
            lines.append("  (none)")
        for d in devices:
            mark = "*" if getattr(d, default_attr) else " "
            lines.append(f" {mark}{d.index:>3}  {d.name}  [{d.hostapi}]  {d.default_rate:g} Hz")
    lines.append("* = default. Pick with --input-device/--output-device INDEX or name part.")
    return "\n".join(lines)


def pick_rate(sd: ModuleType, index: int, kind: str, forced: int | None = None) -> int:
    """24 kHz if the device takes it, else its default rate (resampled by the caller)."""
    if forced:
        return forced
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=index, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
        return SAMPLE_RATE
    except Exception:  # PortAudioError or ValueError: the device wants its own rate
        return int(sd.query_devices(index)["default_samplerate"])


def supports_rate(sd: ModuleType, index: int, kind: str, rate: int) -> bool:
    """Whether device ``index`` can run ``kind`` (input, output) at ``rate``, mono PCM16."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=index, samplerate=rate, channels=1, dtype="int16")
    except Exception:  # PortAudioError or ValueError
        return False
    return True


def resolve_device(sd: ModuleType, spec: int | str | None, kind: str) -> int:
    """Index of the input or output (``kind``) device named by index or name substring.

    ``None`` means the default device, falling back to the first one able to do ``kind``.
    """
    channels_key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices: list[dict[str, Any]] = list(sd.query_devices())
    usable = [d for d in devices if d[channels_key] > 0]
    if not usable:
        raise AudioError(f"no audio {kind} device; {NO_AUDIO_HINT}")
    if spec is None or spec == "":
        default = _defaults(sd)[0 if kind == "input" else 1]
        if any(d["index"] == default for d in usable):
            return default
        return int(usable[0]["index"])
    if isinstance(spec, int) or str(spec).strip().isdigit():
        index = int(spec)
        if any(d["index"] == index for d in usable):
            return index
        raise AudioError(f"audio {kind} device {index} does not exist or cannot do {kind}")
    wanted = str(spec).lower()
    exact = [d for d in usable if d["name"].lower() == wanted]
    matches = exact or [d for d in usable if wanted in d["name"].lower()]
    if not matches:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in usable)
        raise AudioError(f"no audio {kind} device matches {spec!r} (have {names})")
    return int(matches[0]["index"])


def list_devices_text(env: Mapping[str, str] | None = None) -> str:
    """``--list-devices`` output in one call (server, inputs, outputs)."""
    return format_devices(list_devices(env))
