"""``--echo-check``: does the microphone hear the speaker, how late and how loud?

The check plays a short probe (noise bursts: every frequency at once, so the echo's peak is
sharp) on the output device and records the input with the client echo reference beside it
(:mod:`.reference`): channel 1 holds what sounded when each microphone sample was captured,
by PortAudio's DAC and ADC times. So the lag at which the microphone best matches the
reference is the acoustic path alone, from the speaker to the microphone, and not the
device buffers a write-to-read round trip would add.

:func:`analyse` is pure (stereo samples in, an :class:`EchoReport` out); :func:`run_echo_check`
opens the devices, plays and records. No session and no network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import SAMPLE_RATE, AudioError, AudioListener
from .capture import collected

__all__ = ["EchoReport", "analyse", "probe", "run_echo_check"]

MAX_DELAY_MS = 1000
"""The longest echo delay looked for."""
HEARS_PEAK = 8.0
"""A correlation peak this many standard deviations high: the microphone hears the speaker."""
PROBE_LEVEL = 0.25
"""The probe's RMS level (-12 dBFS): clearly audible, not startling."""
LOUD_ECHO_DB = 10.0
"""Echo return loss below this: the echo is nearly as loud as the speaker plays."""
SERVER_REACH_MS = 400
"""Echo later than this is beyond what a send-time (server) reference is searched for."""


@dataclass(frozen=True)
class EchoReport:
    """What the check found."""

    hears: bool
    """The microphone hears the speaker."""
    delay_ms: float | None
    """Speaker to microphone, by the DAC and ADC times (None when not heard)."""
    erl_db: float | None
    """Echo return loss: how much quieter the echo is than what was played (None: not heard)."""
    peak: float
    """The correlation peak, in standard deviations (how sure)."""
    output_latency_ms: float = 0.0
    """The output device's buffer (what a send-time reference is late by, at least)."""

    def recommendation(self) -> str:
        """What to do about it, in words."""
        if not self.hears:
            return (
                "The microphone does not hear the speaker: nothing to cancel, any echo "
                "reference will do. (Turn the volume up and check again if you expected it to.)"
            )
        advice = []
        if self.erl_db is not None and self.erl_db < LOUD_ECHO_DB:
            advice.append(
                "the echo is nearly as loud as the speaker: a headset is best; otherwise "
                "lower the volume"
            )
        late = (self.delay_ms or 0.0) + self.output_latency_ms
        why = (
            f"the echo comes {late:.0f} ms after the audio is handed to the speaker, beyond "
            f"what the service's own reference is searched for"
            if late > SERVER_REACH_MS
            else "it cancels what really played"
        )
        advice.append(f"use --echo-reference client ({why})")
        advice.append(
            "far_field noise reduction suits a laptop's own microphone, near_field a headset's"
        )
        text = "; ".join(advice)
        return "The microphone hears the speaker: " + text + "."

    def lines(self) -> list[str]:
        """The report, one screen of plain lines."""
        heard = "yes" if self.hears else "no"
        lines = [f"Microphone hears the speaker: {heard} (correlation peak {self.peak:.1f})"]
        if self.hears:
            lines.append(
                f"Echo delay: {self.delay_ms:.0f} ms (speaker to microphone, by PortAudio's "
                "DAC and ADC times)"
            )
            lines.append(f"Echo return loss: {self.erl_db:.1f} dB")
        lines.append(f"Output buffer: {self.output_latency_ms:.0f} ms")
        lines.append(self.recommendation())
        return lines


def probe(rate: int = SAMPLE_RATE, seconds: float = 1.0, seed: int = 22) -> np.ndarray:
    """The probe: three bursts of white noise with short gaps (int16)."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    x = rng.standard_normal(n) * PROBE_LEVEL * 32767
    gap = n // 10
    for k in (3, 6):  # two gaps make three bursts
        x[k * n // 10 : k * n // 10 + gap // 2] = 0
    return np.clip(x, -32767, 32767).astype(np.int16)


def analyse(mic: np.ndarray, reference: np.ndarray, rate: int = SAMPLE_RATE) -> EchoReport:
    """The echo in ``mic`` of ``reference`` (same length, aligned by time): its delay,
    its loss, whether there is one at all."""
    m = mic.astype(np.float64)
    r = reference.astype(np.float64)
    most = min(rate * MAX_DELAY_MS // 1000, len(m) - 1)
    if not r.any() or len(m) < 2:
        return EchoReport(False, None, None, 0.0)
    size = 1 << int(np.ceil(np.log2(2 * len(m))))
    spectrum = np.fft.rfft(m, size) * np.conj(np.fft.rfft(r, size))
    plain = np.fft.irfft(spectrum, size)[: most + 1]
    # Phase transform: a sharp peak whatever the room's colour.
    magnitude = np.abs(spectrum)
    spectrum /= magnitude + 0.1 * float(np.mean(magnitude)) + 1e-12
    corr = np.abs(np.fft.irfft(spectrum, size)[: most + 1])
    lag = int(np.argmax(corr))
    peak = float(corr[lag] / (np.std(corr) + 1e-12))
    if peak < HEARS_PEAK:
        return EchoReport(False, None, None, peak)
    shifted = r[: len(r) - lag] if lag else r
    gain = abs(float(plain[lag])) / (float(np.dot(shifted, shifted)) + 1e-12)
    erl = -20.0 * np.log10(max(gain, 1e-6))
    return EchoReport(True, lag * 1000 / rate, round(float(erl), 1), peak)


class _Quiet:
    """An AudioListener that ignores what the check does not need."""

    def __init__(self) -> None:
        self.fault = ""

    def on_playback_started(self, item_id: str, monotonic_time: float) -> None:
        return None

    def on_audio_fault(self, message: str) -> None:
        self.fault = message

    def on_audio_restored(self, message: str) -> None:
        pass  # the check failed already at the fault

    def on_device_changed(self, message: str, *, switched: bool) -> None:
        pass  # the check's own backend follows no device screen


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AudioError(f"echo check: {what} within {timeout:g} s")
        await asyncio.sleep(0.05)


async def run_echo_check(backend: object, *, probe_s: float = 1.0) -> EchoReport:
    """Play the probe on ``backend`` (a SoundDeviceBackend, not started), record, analyse.
    AudioError when the devices cannot be used."""
    from .engine import SoundDeviceBackend

    if not isinstance(backend, SoundDeviceBackend):
        why = getattr(backend, "notice", "") or "WAV files are not a speaker and a microphone"
        raise AudioError(f"the echo check needs sound devices: {why}")
    backend.echo_reference = True
    # The delay is measured on a stream that runs, as it does through a reply (a stream
    # started again for the probe after an idle pause may take a second to keep time).
    backend.idle_pause = False
    listener: AudioListener = _Quiet()
    await backend.start(asyncio.get_running_loop(), listener)
    try:
        async with collected(backend.capture()) as blocks:
            if not (backend.has_input and backend.has_output):
                raise AudioError(f"echo check needs a microphone and a speaker: {backend.notice}")
            # The streams run (PulseAudio starts them a second or two late) and a quiet
            # half second is recorded first.
            per_s = 1000 / backend.block_ms
            await _until(lambda: len(blocks) >= per_s / 2, 15, "no microphone audio")
            # PortAudio's ADC times are believed again (PulseAudio's are not, for a second
            # or two after a stream starts): a second with none doubted.
            rt = backend.callbacks
            seen = [rt.adc_doubted, len(blocks)]

            def settled() -> bool:
                if rt.adc_doubted != seen[0]:
                    seen[:] = [rt.adc_doubted, len(blocks)]
                return len(blocks) - seen[1] >= per_s

            await _until(settled, 15, "the microphone's timing did not settle")
            before = len(blocks)
            backend.play("echo-check", probe(SAMPLE_RATE, probe_s).tobytes())
            backend.ring.release()
            await _until(lambda: backend.pending_ms() == 0, 15 + probe_s, "the probe did not play")
            # The echo can come up to MAX_DELAY_MS after the probe's end.
            tail = before + int((probe_s + MAX_DELAY_MS / 1000 + 0.3) * per_s)
            await _until(lambda: len(blocks) >= tail, 15, "the microphone stopped")
            fault = getattr(listener, "fault", "")
            if fault:
                raise AudioError(f"echo check: {fault}")
    finally:
        await backend.stop()
    frames = np.frombuffer(b"".join(blocks), "<i2").reshape(-1, 2)
    report = analyse(frames[:, 0], frames[:, 1])
    return EchoReport(
        report.hears,
        report.delay_ms,
        report.erl_db,
        report.peak,
        output_latency_ms=backend.output_latency * 1000,
    )
