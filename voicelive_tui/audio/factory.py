"""Pick and start an audio backend from plain options (no dependency on Settings).

``make_backend("auto", ...)`` gives a :class:`WavBackend` when WAV files are named, a
:class:`SoundDeviceBackend` when PortAudio loads and has devices, and otherwise a
:class:`NullBackend` whose ``notice`` is the one line telling the user how to get audio.
``start_backend`` starts it and, if opening the devices fails, falls back to text-only
the same way, so the app never dies of an audio problem.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from . import portaudio
from .backends import NullBackend, WavBackend
from .base import AudioBackend, AudioError, AudioListener
from .devices import NO_AUDIO_HINT, load_sounddevice

KINDS = ("auto", "sounddevice", "wav", "none")


def make_backend(
    kind: str = "auto",
    *,
    input_device: int | str | None = None,
    output_device: int | str | None = None,
    block_ms: float = 20.0,
    full_duplex: bool = False,
    device_rate: int | None = None,
    input_wav: str | Path | None = None,
    output_wav: str | Path | None = None,
    wav_speed: float = 1.0,
    record: str | Path | None = None,
    forwarded: bool = False,
    sticky_device: bool = False,
) -> AudioBackend:
    """Build (not start) the backend for ``kind``: auto, sounddevice, wav or none.

    ``kind="sounddevice"`` raises AudioError when PortAudio or devices are missing;
    ``"auto"`` returns a NullBackend with the reason in ``notice`` instead. ``forwarded``:
    the sound server is far away (``ssh -R``), so the output buffer starts bigger.
    ``sticky_device``: a named device that went and returns is switched back to by itself.
    """
    if kind not in KINDS:
        raise AudioError(f"unknown audio backend {kind!r} (choose from {', '.join(KINDS)})")
    if kind == "none":
        return NullBackend(notice="audio off (--no-audio): text only")
    if kind == "wav" or (kind == "auto" and (input_wav or output_wav)):
        return WavBackend(input_wav, output_wav, block_ms=block_ms, speed=wav_speed, record=record)
    try:
        sd = portaudio.serialised(load_sounddevice())
        if not sd.query_devices():
            raise AudioError(f"no audio devices found; {NO_AUDIO_HINT}")
    except AudioError as exc:
        if kind == "sounddevice":
            raise
        return NullBackend(notice=f"text only: {exc}")
    from .engine import FORWARDED_OUTPUT_LATENCY_S, OUTPUT_LATENCY_S, SoundDeviceBackend

    return SoundDeviceBackend(
        input_device,
        output_device,
        block_ms=block_ms,
        full_duplex=full_duplex,
        device_rate=device_rate,
        record=record,
        output_latency=FORWARDED_OUTPUT_LATENCY_S if forwarded else OUTPUT_LATENCY_S,
        sticky=sticky_device,
    )


async def start_backend(
    backend: AudioBackend, loop: asyncio.AbstractEventLoop, listener: AudioListener
) -> AudioBackend:
    """Start ``backend``; on AudioError start and return a NullBackend with the reason."""
    try:
        await backend.start(loop, listener)
        return backend
    except AudioError as exc:
        with_reason = NullBackend(notice=f"text only: {exc}")
        await backend.stop()
        await with_reason.start(loop, listener)
        return with_reason
