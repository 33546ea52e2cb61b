"""Asking the host what devices it has now, without PortAudio.

PortAudio reads the device list once, at initialisation, and re-initialising it is only
safe with no stream open (it would stop ours: see spatialaudio/python-sounddevice#125), so
the watch (:mod:`.follower`) asks the host by its own means, cheaply, and only opens
streams anew (re-initialising PortAudio between them) when something changed:

* PulseAudio or PipeWire (ALSA's ``pulse`` plugin): ``pactl``, the server's sinks and
  sources. Used only while a sink or source chosen on the device screen is to be watched:
  the plugin follows the default by itself;
* macOS: CoreAudio's own properties (the devices, their names, the default input and
  output), through ctypes: a few system calls;
* Windows: ``winmm``'s device names and preferred device, which Windows keeps current
  as devices come and go (names cut to 31 characters: :meth:`DeviceSnapshot.has` allows
  for it).

None of these but ``pactl`` can run in this project's CI (Linux, PulseAudio null sinks);
the decisions built on them are unit-tested with scripted snapshots.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

from . import pulse
from .device_watch import DeviceSnapshot

Probe = Callable[[], "DeviceSnapshot | None"]


def pulse_snapshot(env: Mapping[str, str]) -> DeviceSnapshot | None:
    """The PulseAudio server's sinks and sources (None: no answer), in one ``pactl`` run
    (3 ms of CPU: each run more costs as much again). Not its defaults: the plugin follows
    them, and a notice that needs one asks for it (:func:`pulse_defaults`)."""
    names = pulse.server_names(env)
    if names is None:
        return None
    return DeviceSnapshot(outputs=names[0], inputs=names[1])


def pulse_defaults(env: Mapping[str, str]) -> tuple[str, str]:
    """The PulseAudio server's default sink and source ("" when it does not answer)."""
    found = pulse.server_devices(env)
    return found.default_sink, found.default_source


def probe_for(*, plugin: bool, env: Mapping[str, str]) -> tuple[Probe | None, bool]:
    """How to ask this host about its devices, and whether the watch must follow the
    default itself: ``plugin``, the streams go through ALSA's ``pulse`` plugin."""
    if plugin:
        return (lambda: pulse_snapshot(env)), False
    if sys.platform == "darwin":
        return coreaudio_snapshot, True
    if sys.platform == "win32":
        return winmm_snapshot, True
    return None, False  # plain ALSA or another host API: no cheap way to ask


# ---------------------------------------------------------------------------- macOS


def _fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


class _Address(ctypes.Structure):
    _fields_ = [
        ("selector", ctypes.c_uint32),
        ("scope", ctypes.c_uint32),
        ("element", ctypes.c_uint32),
    ]


_SYSTEM_OBJECT = 1
_GLOBAL, _INPUT, _OUTPUT = _fourcc("glob"), _fourcc("inpt"), _fourcc("outp")
_UTF8 = 0x08000100
_core: tuple[ctypes.CDLL, ctypes.CDLL] | None = None


def _frameworks() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    global _core
    if _core is None:
        base = "/System/Library/Frameworks/{0}.framework/{0}"
        audio = ctypes.CDLL(base.format("CoreAudio"))
        cf = ctypes.CDLL(base.format("CoreFoundation"))
        cf.CFStringGetCString.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_long,
            ctypes.c_uint32,
        ]
        cf.CFRelease.argtypes = [ctypes.c_void_p]
        # Without a run loop of its own the HAL never updates what it answers in a
        # process like this one (no Cocoa main loop): the device list would stay as it
        # was at start, for us and for PortAudio. NULL: the HAL runs a thread of its own.
        no_loop = ctypes.c_void_p(None)
        audio.AudioObjectSetPropertyData(
            _SYSTEM_OBJECT,
            ctypes.byref(_Address(_fourcc("rnlp"), _GLOBAL, 0)),
            0,
            None,
            ctypes.sizeof(no_loop),
            ctypes.byref(no_loop),
        )
        _core = audio, cf
    return _core


def _property(audio: ctypes.CDLL, obj: int, selector: str, scope: int) -> bytes | None:
    address = _Address(_fourcc(selector), scope, 0)
    size = ctypes.c_uint32(0)
    if audio.AudioObjectGetPropertyDataSize(
        obj, ctypes.byref(address), 0, None, ctypes.byref(size)
    ):
        return None
    data = ctypes.create_string_buffer(size.value)
    if audio.AudioObjectGetPropertyData(
        obj, ctypes.byref(address), 0, None, ctypes.byref(size), data
    ):
        return None
    return data.raw[: size.value]


def _device_name(audio: ctypes.CDLL, cf: ctypes.CDLL, device: int) -> str:
    raw = _property(audio, device, "lnam", _GLOBAL)
    if not raw:
        return ""
    ref = ctypes.c_void_p.from_buffer_copy(raw)
    text = ctypes.create_string_buffer(512)
    ok = cf.CFStringGetCString(ref, text, len(text), _UTF8)
    cf.CFRelease(ref)
    return text.value.decode("utf-8", "replace") if ok else ""


def coreaudio_snapshot() -> DeviceSnapshot | None:
    """CoreAudio's devices (by direction) and default input and output."""
    try:
        audio, cf = _frameworks()
    except OSError:
        return None
    raw = _property(audio, _SYSTEM_OBJECT, "dev#", _GLOBAL)
    if raw is None:
        return None
    ids = [int.from_bytes(raw[i : i + 4], sys.byteorder) for i in range(0, len(raw), 4)]
    outputs, inputs, names = [], [], {}
    for device in ids:
        names[device] = name = _device_name(audio, cf, device)
        if _property(audio, device, "stm#", _OUTPUT):
            outputs.append(name)
        if _property(audio, device, "stm#", _INPUT):
            inputs.append(name)
    defaults = []
    for selector in ("dOut", "dIn "):
        found = _property(audio, _SYSTEM_OBJECT, selector, _GLOBAL)
        device = int.from_bytes(found[:4], sys.byteorder) if found else 0
        defaults.append(names.get(device, ""))
    return DeviceSnapshot(tuple(outputs), tuple(inputs), defaults[0], defaults[1])


# --------------------------------------------------------------------------- Windows

_WAVE_MAPPER = 0xFFFFFFFF
_DRVM_MAPPER_PREFERRED_GET = 0x2015


class _InCaps(ctypes.Structure):
    """WAVEINCAPSW."""

    _fields_ = [
        ("mid", ctypes.c_uint16),
        ("pid", ctypes.c_uint16),
        ("version", ctypes.c_uint32),
        ("name", ctypes.c_wchar * 32),
        ("formats", ctypes.c_uint32),
        ("channels", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16),
    ]


class _OutCaps(_InCaps):
    """WAVEOUTCAPSW: the same, and one field more (a subclass's fields follow its base's)."""

    _fields_ = [("support", ctypes.c_uint32)]


def winmm_snapshot() -> DeviceSnapshot | None:
    """Windows' wave devices by direction and its preferred (default) ones."""
    if sys.platform != "win32":
        return None
    try:
        winmm = ctypes.WinDLL("winmm")
    except OSError:
        return None
    lists: list[tuple[str, ...]] = []
    defaults: list[str] = []
    for prefix, caps_type in (("waveOut", _OutCaps), ("waveIn", _InCaps)):
        names = []
        for index in range(getattr(winmm, f"{prefix}GetNumDevs")()):
            caps = caps_type()
            if (
                getattr(winmm, f"{prefix}GetDevCapsW")(
                    index, ctypes.byref(caps), ctypes.sizeof(caps)
                )
                == 0
            ):
                names.append(caps.name)
        preferred, flags = ctypes.c_uint32(0xFFFFFFFF), ctypes.c_uint32(0)
        message = getattr(winmm, f"{prefix}Message")
        message.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        message(
            ctypes.c_void_p(_WAVE_MAPPER),
            _DRVM_MAPPER_PREFERRED_GET,
            ctypes.byref(preferred),
            ctypes.byref(flags),
        )
        lists.append(tuple(names))
        defaults.append(names[preferred.value] if preferred.value < len(names) else "")
    return DeviceSnapshot(lists[0], lists[1], defaults[0], defaults[1])
