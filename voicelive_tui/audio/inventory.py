"""What the device screen lists and meters.

:func:`list_entries` gives PortAudio's inputs and outputs and, when a PortAudio device is
PulseAudio's (``pulse``/``default`` of ALSA's ``pulse`` plugin), the server's own sinks and
sources too: PortAudio sees only that one device, and a sink or source is reached through
it (``PULSE_SINK``/``PULSE_SOURCE`` at the stream's opening). The device in use and the
default are marked.

:class:`InputMeters` opens one capture stream per input while the screen is open, so the
user sees which microphone hears them. Its callbacks are real-time code: one
:class:`~voicelive_tui.audio.levels.LevelMeter` each, writing into one preallocated array.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, MutableMapping
from types import ModuleType
from typing import Any

import numpy as np

from . import devices, pulse
from .base import SILENCE_DB
from .choices import DeviceEntry
from .levels import LevelMeter

PULSE_DEVICES = ("pulse", "default")
"""PortAudio's names for the ALSA ``pulse`` plugin, the way to a PulseAudio server."""
METER_BLOCK = 1024


def pulse_plugin(found: Iterable[devices.DeviceInfo]) -> devices.DeviceInfo | None:
    """PortAudio's device that reaches PulseAudio (``pulse``, else ``default``), if any."""
    by_name = {d.name: d for d in found}
    return next((by_name[n] for n in PULSE_DEVICES if n in by_name), None)


def list_entries(
    found: list[devices.DeviceInfo],
    server: pulse.ServerDevices,
    *,
    in_use: Mapping[str, int],
    pulse_choice: Mapping[str, str],
) -> list[DeviceEntry]:
    """Outputs, then inputs: PortAudio's devices, then the server's sinks or sources.

    ``in_use``: the PortAudio index open for "input" and "output" (-1: none);
    ``pulse_choice``: the sink ("output") or source ("input") chosen through the plugin.
    """
    plugin = pulse_plugin(found)
    entries: list[DeviceEntry] = []
    for kind in ("output", "input"):
        chosen = pulse_choice.get(kind)
        using = in_use.get(kind, -1)
        for d in found:
            channels = d.outputs if kind == "output" else d.inputs
            if channels <= 0:
                continue
            entries.append(
                DeviceEntry(
                    kind,
                    d.name,
                    d.hostapi,
                    int(d.default_rate),
                    channels,
                    d.index,
                    current=d.index == using and not chosen,
                    default=d.is_default_output if kind == "output" else d.is_default_input,
                )
            )
        if plugin is None:
            continue
        on_plugin = plugin.index == using
        server_default = server.default_sink if kind == "output" else server.default_source
        for dev in server.sinks if kind == "output" else server.sources:
            entries.append(
                DeviceEntry(
                    kind,
                    dev.description or dev.name,
                    "PulseAudio",
                    dev.rate,
                    dev.channels,
                    plugin.index,
                    pulse_name=dev.name,
                    current=on_plugin and dev.name == (chosen or server_default),
                    default=dev.name == server_default,
                )
            )
    return entries


class InputMeters:
    """A live level for each input entry (one capture stream each) while the screen is open.

    ``levels[2 * i]`` is entry ``i``'s RMS and ``levels[2 * i + 1]`` its peak, in dBFS.
    An input that cannot be opened (busy, gone) stays at silence, its reason in ``errors``.
    """

    def __init__(self, entries: list[DeviceEntry]) -> None:
        self.entries = entries
        self.levels = np.full(2 * len(entries), SILENCE_DB, dtype=np.float32)
        self.errors: dict[str, str] = {}
        self._streams: list[Any] = []

    def open(self, sd: ModuleType, env: MutableMapping[str, str]) -> None:
        """Open and start the streams (on the loop; PULSE_SOURCE restored afterwards)."""
        saved = env.get(pulse.CHOICE_VARIABLES["input"])
        try:
            for i, entry in enumerate(self.entries):
                if entry.pulse_name:
                    pulse.direct(env, "input", entry.pulse_name)
                else:
                    pulse.direct(env, "input", saved)
                meter = LevelMeter(self.levels, 2 * i, 2 * i + 1, 4 * METER_BLOCK)
                try:
                    stream = sd.InputStream(
                        device=entry.index,
                        channels=1,
                        dtype="int16",
                        blocksize=METER_BLOCK,
                        callback=_measure_into(meter),
                    )
                    stream.start()
                except Exception as exc:  # PortAudioError: busy, gone, odd device
                    self.errors[entry.key] = str(exc)
                    continue
                self._streams.append(stream)
        finally:
            pulse.direct(env, "input", saved)

    def level(self, entry: DeviceEntry) -> float:
        """The entry's RMS level in dBFS (silence when it is not metered)."""
        for i, e in enumerate(self.entries):
            if e.key == entry.key:
                return float(self.levels[2 * i])
        return SILENCE_DB

    def close(self) -> None:
        """Stop and close every stream (safe to call twice)."""
        streams, self._streams = self._streams, []
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.abort()
            with contextlib.suppress(Exception):
                stream.close()


def _measure_into(meter: LevelMeter) -> Any:
    def callback(indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        meter.measure(indata[:, 0])  # real-time: LevelMeter reduces into its scratch

    return callback
