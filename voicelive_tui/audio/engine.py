"""The sounddevice backend: PortAudio input and output streams with real-time callbacks.

The real-time callbacks are :class:`~voicelive_tui.audio.callbacks.RealtimeCallbacks` (its
rules are in that module); on the loop, ``_on_wake`` drains the capture ring into 24 kHz
blocks for ``capture()``, feeds the recorder and reports first samples. With
``echo_reference`` set, each block is interleaved stereo: the microphone and, beside it,
what the speaker played when it was captured (:mod:`.reference`).

The output stream has a big buffer (``OUTPUT_LATENCY_S``, doubled between items after
the device starved) so a late callback is not heard; barge-in aborts and restarts it,
which drops what the buffer held. With nothing to play for ``IDLE_PAUSE_S`` it is aborted
(paused: PortAudio and the sound server stop calling it, 50 times a second for
silence) and started again once the ring holds a device buffer's worth of audio or the
item's audio has all arrived; starting puts that audio at the head of the device's
buffer, so the first sample sounds sooner than behind a running stream's buffered
silence. Not while recording (the speaker's track runs on the output's clock), nor in
full duplex, nor before the device has begun to play the stream (``PLAYING_S``). The
output callback tells the ring when its block will sound (PortAudio's time info), so
``played_ms()`` counts what was heard. The ring's jitter buffer (``PREBUFFER_MS``, doubled
after each item whose deltas came late) absorbs a loop that hands over audio late.

Devices that cannot run at 24 kHz run at their own rate: the rings hold device-rate
samples and the loop side converts with soxr (``StreamResampler``), never the callback.
A stream that ends on its own (PortAudio's finished callback -- not a real-time callback;
it schedules ``_fault`` with ``call_soon_threadsafe`` -- an inactive stream, or no callback
for ``STALL_S``) is a lost device: the listener gets ``on_audio_fault``, the backend goes
text-only and recovers by itself: it re-initialises PortAudio (which keeps the device list it
read at initialisation) with no stream open and opens the devices again, after
``RETRY_DELAYS_S`` and then every ``RETRY_EVERY_S``, until they work (``reopen()`` tries at
once). A named device that is gone by then is replaced by the default. The listener gets
``on_audio_restored`` with what is used now.

Every PortAudio call goes to :mod:`.portaudio`'s one thread (``self._sd`` is the wrapped
module), one at a time, with a bound on each wait: a lost device's streams are aborted
there without waiting (with the server gone, that abort can block for good), and the
recovery's re-initialisation queues behind it. A PortAudio stuck for good is told to the
listener once (``PortAudioStuck``) and the backend stays text-only.

Devices that change while the streams run are the device watch's (:mod:`.follower`,
:mod:`.device_watch`): a new default on hosts that leave our streams where they are
(CoreAudio, WASAPI), a named device gone or back (``sticky``: switched back to by itself).
Acting on it re-initialises PortAudio between two streams (:meth:`_rescan_and_reopen`), or
on PulseAudio reopens the one stream. What the old output held unheard is played by the
new one, resampled when its rate differs (:mod:`.carry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import devices, host_devices, inventory, portaudio, pulse
from .base import SAMPLE_RATE, SILENCE_DB, AudioError, AudioListener
from .callbacks import RealtimeCallbacks
from .carry import carry_over
from .choices import DeviceEntry, DeviceKind
from .device_watch import Decision, DeviceWatch
from .follower import DeviceFollower
from .inventory import InputMeters
from .playback import RingBackend, pcm_to_samples
from .portaudio import PortAudioStuck
from .reference import ReferenceHistory, ReferenceReader
from .resample import StreamResampler
from .ring import PlaybackRing, SampleRing
from .streams import DeviceStreams

__all__ = ["SoundDeviceBackend"]

OUTPUT_LATENCY_S = 0.2
"""Output device buffer asked of PortAudio: callbacks may be this late without a gap.
Barge-in aborts the output stream, which drops what the buffer holds, so a bigger buffer
does not slow it; see the README's architecture notes for the measurements."""
FORWARDED_OUTPUT_LATENCY_S = 0.4
"""The starting buffer for a sound server reached over the network or ``ssh -R``."""
CAPTURE_RING_S = 10
"""Microphone audio the capture ring holds while the loop is busy (then it is dropped)."""
PREBUFFER_MS = 60
"""Jitter buffer at the start of playback; it doubles after each starved item."""
STALL_S = 3.0
"""A running stream without a callback for this long counts as a lost device."""
MAX_OUTPUT_LATENCY_S = 0.8
"""The output buffer doubles after the device starved (between items), up to this."""
MAX_PREBUFFER_MS = 640
RETRY_DELAYS_S = (0.25, 0.5)
"""Back-off of the first attempts to open the devices again after a lost device."""
RETRY_EVERY_S = 1.0
"""Then one attempt a second (a sound server that returns is used within about a second)."""
RETRY_SLOWLY_AFTER_S = 120.0
RETRY_SLOWLY_EVERY_S = 5.0
"""After two minutes without devices, one attempt every five seconds (a re-initialisation
costs some CPU)."""
STOP_WAIT_S = 5.0
"""stop() waits this long for PortAudio to close the streams (after what it is doing)."""
IDLE_PAUSE_S = 1.0
"""The output stream pauses after this long with nothing queued or sounding..."""
PLAYING_S = 0.1
"""... once the device has played this much from it since it started. Over ``ssh -R`` the
sound server began to play a new stream 1.2 s after its start (its buffer filled at once,
then no callback); aborted before that and started again, the stream lost audio in the
server with no under-run flagged: 9 gaps in the greeting, the first 350 ms long 142 ms in."""
RELEASE_AFTER_S = 0.1
"""Deltas stop for this long: the item's audio has all arrived and may start below the
jitter buffer's level."""
REFERENCE_HISTORY_S = 4.0
"""What the speaker played kept for the echo reference: the deepest output buffer and the
input's own latency, with room to spare."""
RETURNED = "back: Enter reopens"
"""The device screen's "Via" of a named device that returned, before PortAudio sees it."""
REFERENCE_SLACK_MS = 10.0
"""The echo reference is laid anew on PortAudio's clock when it drifts this far from it."""


def interleave(mic: bytes, reference: bytes) -> bytes:
    """Two mono PCM16 blocks of one length as one interleaved stereo block (mic first)."""
    frames = np.empty((len(mic) // 2, 2), dtype="<i2")
    frames[:, 0] = np.frombuffer(mic, dtype="<i2")
    frames[:, 1] = np.frombuffer(reference, dtype="<i2")
    return frames.tobytes()


class SoundDeviceBackend(RingBackend):
    """Microphone and speaker through PortAudio (sounddevice), 24 kHz mono PCM16."""

    kind = "sounddevice"

    def __init__(
        self,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        *,
        block_ms: float = 20.0,
        full_duplex: bool = False,
        device_rate: int | None = None,
        record: str | Path | None = None,
        ring_seconds: float = 300.0,
        latency: str | float = "low",
        output_latency: float = OUTPUT_LATENCY_S,
        prebuffer_ms: int = PREBUFFER_MS,
        sticky: bool = False,
    ) -> None:
        super().__init__(ring_seconds=ring_seconds, record=record)
        self.input_device = input_device
        self.output_device = output_device
        self.block_ms = block_ms
        self.full_duplex = full_duplex
        self.device_rate = device_rate
        self.latency = latency
        self.output_latency = output_latency
        self.prebuffer_ms = prebuffer_ms
        self.block = max(1, round(SAMPLE_RATE * block_ms / 1000))
        self.server = ""
        self._sd: Any = None
        self._streams = DeviceStreams(None, self._finished_callback)
        self._in_name = self._out_name = ""
        self._in_rate = self._out_rate = SAMPLE_RATE
        self.callbacks = RealtimeCallbacks(
            self._on_wake,
            ring=self.ring,
            capture_ring=SampleRing(SAMPLE_RATE),
            mic_meter=self._mic_meter,
            speaker_meter=self._speaker_meter,
        )
        self._in_resampler = StreamResampler(SAMPLE_RATE, SAMPLE_RATE)
        self._out_resampler = StreamResampler(SAMPLE_RATE, SAMPLE_RATE)
        self._mon_resampler = StreamResampler(SAMPLE_RATE, SAMPLE_RATE)
        self._ref_resampler = StreamResampler(SAMPLE_RATE, SAMPLE_RATE)
        self._mic_buf = bytearray()
        self._ref_buf = bytearray()
        self._housekeeping: asyncio.Task[None] | None = None
        self._calls_seen = 0
        self._stall_since = 0.0
        self._tail_item: str | None = None
        self._last_play = 0.0
        self._underruns_seen = 0
        self._underflows_seen = 0
        self._out_index = self._in_index = -1
        self.pulse_choice: dict[str, str] = {}
        """The PulseAudio sink ("output") or source ("input") chosen on the device screen."""
        self._env_before: dict[str, str | None] = {}
        self._recovery: asyncio.Task[None] | None = None
        self._reopening = asyncio.Lock()
        self._meters: InputMeters | None = None
        self.watch = DeviceWatch(follow_default=False, sticky=sticky)
        """What the device watch decides on (``sticky``: a named device that returns is
        switched back to by itself)."""
        self.follower: DeviceFollower | None = None
        self._plugin = False
        self.output_paused = False
        """The output stream is aborted while there is nothing to play (see module doc)."""
        self.output_pauses = 0
        self.idle_pause = True
        """Pause the idle output at all (the echo check measures a stream that runs)."""
        self._output_busy_at = 0.0
        self._output_from = 0
        """The ring's output count when the output stream last started."""

    # ------------------------------------------------------------------ interface

    @property
    def has_input(self) -> bool:
        return self._streams.input is not None and not self.faulted

    @property
    def has_output(self) -> bool:
        return self._streams.output is not None and not self.faulted

    @property
    def metering(self) -> bool:
        return self.callbacks.metering

    @metering.setter
    def metering(self, on: bool) -> None:
        self.callbacks.metering = on

    @property
    def supports_echo_reference(self) -> bool:
        return True

    @property
    def output_latency_s(self) -> float:
        return self.output_latency

    def reference_stats(self) -> dict[str, float]:
        """How the echo reference keeps to the clock: times laid anew, the last drift (ms)."""
        reader = self.callbacks.reference
        if reader is None:
            return {}
        return {
            "reanchors": reader.reanchors,
            "drift_ms": round(reader.drift * 1000 / reader.out_rate, 2),
        }

    def describe(self) -> str:
        if self.faulted:
            state = "reconnecting" if self.recovering else "lost"
            return f"{state}: {self.notice}"  # the status bar: "audio reconnecting: ..."
        parts = []
        for label, kind, name, rate in (
            ("mic", "input", self._in_name, self._in_rate),
            ("speaker", "output", self._out_name, self._out_rate),
        ):
            if name:
                if kind in self.pulse_choice:
                    name += f" ({self.pulse_choice[kind]})"
                note = f" @{rate / 1000:g}k resampled" if rate != SAMPLE_RATE else ""
                parts.append(f"{label} {name}{note}")
        server = self.server.split(" at ")[0] if self.server else "PortAudio"
        return f"{server}: " + (", ".join(parts) or "no devices")

    async def start(self, loop: asyncio.AbstractEventLoop, listener: AudioListener) -> None:
        self._loop = self.callbacks.loop = loop
        self._listener = listener
        self._sd = portaudio.serialised(devices.load_sounddevice())
        self._streams = DeviceStreams(self._sd, self._finished_callback)
        self.server = await asyncio.to_thread(devices.audio_server)
        self._open_recorder()
        self._open()
        self._capture.reopen()
        self._start_watch(loop)
        if self._housekeeping is None:
            self._housekeeping = loop.create_task(self._housekeep(), name="audio-housekeeping")

    async def stop(self) -> None:
        if self.follower is not None:
            await self.follower.stop()
        for task in (self._housekeeping, self._recovery):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._housekeeping = self._recovery = None
        self.recovering = False
        self.close_meters()
        # After what PortAudio is doing (a cancelled recovery's re-initialisation); not
        # at all when it is stuck (the process then exits without terminating it).
        with contextlib.suppress(AudioError):
            await portaudio.call(
                self._sd, self._close_streams, timeout=STOP_WAIT_S, name="closing the streams"
            )
        for variable, value in self._env_before.items():  # the process's own, as it was
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        self._drain()
        self._capture.close()
        self._close_recorder()

    async def reopen(self) -> None:
        """Close what is left, rescan PortAudio and open the devices again (at once; a
        lost device is also retried by itself). Raises AudioError when that fails."""
        if self._loop is None or self._listener is None:
            raise AudioError("audio was never started")
        await self._reopen_devices()

    async def _reopen_devices(self) -> str:
        """Rescan PortAudio with no stream open and open the devices; what changed."""
        async with self._reopening:
            if not self.faulted and self._streams.all:
                return ""  # the other caller got there first
            self._close_streams()
            self.close_meters()  # no stream of ours may be open across a re-initialisation
            try:
                await portaudio.call(self._sd, devices.rescan, self._sd, name="re-initialisation")
            except PortAudioStuck:
                raise
            except Exception as exc:  # PortAudioError: PortAudio could not start again
                raise AudioError(f"PortAudio could not re-initialise: {exc}") from exc
            changed = self._open(fallback=True)
            self.faulted = self.recovering = False
            return changed

    def device_entries(self) -> list[DeviceEntry]:
        """PortAudio's devices and the PulseAudio server's, marked (blocking: a thread)."""
        if self._sd is None:
            return []
        found = devices.query(self._sd)
        server = (
            pulse.server_devices(os.environ)
            if inventory.pulse_plugin(found) is not None
            else pulse.ServerDevices()
        )
        in_use = {
            "input": self._in_index if self._streams.input is not None else -1,
            "output": self._out_index if self._streams.output is not None else -1,
        }
        # A chosen sink or source that is gone (or back, not switched to) is not in use.
        away = self.watch.missing | set(self.watch.offered)
        choice = {k: v for k, v in self.pulse_choice.items() if k not in away}
        entries = inventory.list_entries(found, server, in_use=in_use, pulse_choice=choice)
        if not self._plugin:  # PortAudio sees a returned device only once re-initialised
            entries += [
                DeviceEntry(kind, name, RETURNED, 0, 0, index=-1)
                for kind, name in self.watch.offered.items()
            ]
        return entries

    def open_meters(self, entries: list[DeviceEntry]) -> InputMeters | None:
        """Meter every input but the one in use (its level is the microphone's)."""
        self.close_meters()
        if self._sd is None or self.faulted:
            return None
        meters = InputMeters(
            [e for e in entries if e.kind == "input" and not e.current and e.index >= 0]
        )
        self._meters = meters  # closed before any re-initialisation of PortAudio
        meters.open(self._sd, os.environ)
        return meters

    def close_meters(self) -> None:
        """Close the device screen's input meters, if open."""
        meters, self._meters = self._meters, None
        if meters is not None:
            meters.close()

    async def choose_device(self, entry: DeviceEntry) -> None:
        if entry.index < 0 and self.watch.offered.get(entry.kind) == entry.name:
            await self._act_on(Decision("back", entry.kind, entry.name))  # an offer taken
            if self.watch.missing or self.faulted:
                raise AudioError(f"{entry.name} could not be opened again")
            return
        await self.use_device(entry.kind, entry.index, pulse_name=entry.pulse_name)

    async def use_device(
        self, kind: DeviceKind, spec: int | str | None, *, pulse_name: str | None = None
    ) -> None:
        """Switch the input or output to ``spec`` (an index, a name part, or None for the
        default) mid-session; ``pulse_name``: through PortAudio's ``pulse`` device, to that
        PulseAudio sink or source. Only that stream changes: the rings, the capture queue and
        the session go on, and what the old output held unheard plays on the new one from
        where it was. AudioError when it cannot open (the old device is kept)."""
        async with self._reopening:
            before = self.input_device if kind == "input" else self.output_device
            old_pulse = self.pulse_choice.get(kind)
            self._choose(kind, spec, pulse_name)
            if self.faulted or self._sd is None:
                if self._sd is not None:
                    self._watch_choice(kind, spec, pulse_name)
                return  # the recovery opens what was chosen
            try:
                index = devices.resolve_device(self._sd, spec, kind)
                rate = self._in_rate if kind == "input" else self._out_rate
                if self.full_duplex or not devices.supports_rate(self._sd, index, kind, rate):
                    # Another rate: everything is set up again; the queue is carried over.
                    self._keep_device_queue()
                    self._close_streams()
                    self._open()
                else:
                    self._swap_stream(kind, index)
            except AudioError:
                self._choose(kind, before, old_pulse)
                if not self._streams.all:
                    self._open_or_fault()
                raise
            self._watch_choice(kind, spec, pulse_name)
        self._tell("", switched=True)

    # ------------------------------------------------------------------ the device watch

    def _start_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the watch up for this host and the devices named (see :mod:`.follower`)."""
        plugin = {self._in_name, self._out_name} & set(inventory.PULSE_DEVICES)
        self._plugin = bool(plugin) and sys.platform == "linux"
        probe, follow = host_devices.probe_for(plugin=self._plugin, env=os.environ)
        self.watch.follow_default = follow
        for kind, spec in (("input", self.input_device), ("output", self.output_device)):
            if not self._plugin and spec not in (None, ""):
                self.watch.name(kind, self._name_of(spec, kind))  # type: ignore[arg-type]
        for kind, name in self.pulse_choice.items():
            self.watch.name(kind, name)  # type: ignore[arg-type]
        if self.follower is None:
            self.follower = DeviceFollower(
                self.watch, probe, self._act_on, paused=lambda: self.faulted
            )
        self.follower.probe = probe
        self.follower.update(loop)

    def _name_of(self, spec: int | str, kind: str) -> str:
        """The device name ``spec`` stands for (an index: that device's name)."""
        if isinstance(spec, str) and not spec.strip().isdigit():
            return spec
        try:
            index = devices.resolve_device(self._sd, spec, kind)
        except AudioError:
            return str(spec)
        return next((d.name for d in devices.query(self._sd) if d.index == index), str(spec))

    def _watch_choice(
        self, kind: DeviceKind, spec: int | str | None, pulse_name: str | None
    ) -> None:
        """The user chose a device: the watch keeps an eye on it (or follows the default)."""
        if self._plugin or pulse_name:
            self.watch.name(kind, pulse_name)
        else:
            named = spec is not None and spec != ""
            self.watch.name(kind, self._name_of(spec, kind) if spec is not None and named else None)
        if self.follower is not None and self._loop is not None:
            self.follower.update(self._loop)

    def _tell(self, message: str, *, switched: bool) -> None:
        if self._listener is not None:
            self._listener.on_device_changed(message, switched=switched)

    async def _act_on(self, decision: Decision) -> None:
        """Do what the device watch decided (see :mod:`.device_watch`)."""
        what = "Speaker" if decision.kind == "output" else "Microphone"
        name, kind = decision.name, decision.kind
        if decision.action == "offer":
            self._tell(
                f"{what} {name!r} is back: choose it on the device screen (d) to switch back",
                switched=False,
            )
        elif decision.action == "gone":
            default = decision.default
            if self._plugin:  # the sound server moved our stream to its default itself
                defaults = await asyncio.to_thread(host_devices.pulse_defaults, os.environ)
                default = defaults[0 if kind == "output" else 1]
            else:
                await self._rescan_and_reopen()
            self._tell(
                f"{what} {name!r} is gone; using the default ({default or '?'}) until it returns",
                switched=not self._plugin,
            )
        elif decision.action == "follow":
            if await self._rescan_and_reopen():
                self._tell(f"{what}: the new default, {name}", switched=True)
        else:  # back, by itself (--sticky-device)
            self.watch.switched_back(kind)
            if await (self._reswap(kind) if self._plugin else self._rescan_and_reopen()):
                self._tell(f"{what} {name!r} is back: switched back to it", switched=True)

    async def _reswap(self, kind: DeviceKind) -> bool:
        """Open the stream of ``kind`` anew on the same PortAudio device (through the
        ``pulse`` plugin, to the sink or source chosen); True when it did."""
        async with self._reopening:
            if self.faulted:
                return False
            try:
                self._swap_stream(kind, self._in_index if kind == "input" else self._out_index)
            except AudioError:
                return False  # a lost device: the recovery goes on from there
            return True

    async def _rescan_and_reopen(self) -> bool:
        """Between two streams, re-initialise PortAudio (it sees devices and defaults
        only then) and open the devices again; what the output held unheard plays on.
        True when it did (a failure is a lost device, recovered as such)."""
        async with self._reopening:
            if self.faulted or self._sd is None or not self._streams.all:
                return False
            self._keep_device_queue()
            self._close_streams()
            self.close_meters()
            try:
                await portaudio.call(self._sd, devices.rescan, self._sd, name="re-initialisation")
                self._open(fallback=True)
            except Exception as exc:  # PortAudioError, AudioError
                self._streams.closing = False
                self._fault(f"audio devices could not reopen: {exc}")
                return False
            return True

    def _keep_device_queue(self) -> None:
        """Stop the output stream; what it held unheard goes back into the ring."""
        if self._streams.output is not None and not self.full_duplex:
            self._streams.drop("output")
            self.ring.requeue_device_queue()

    def _choose(self, kind: DeviceKind, spec: int | str | None, pulse_name: str | None) -> None:
        if kind == "input":
            self.input_device = spec
        else:
            self.output_device = spec
        if pulse_name or kind in self.pulse_choice:  # else the user's PULSE_SINK stays
            variable = pulse.CHOICE_VARIABLES[kind]
            self._env_before.setdefault(variable, os.environ.get(variable))
            pulse.direct(os.environ, kind, pulse_name)
        if pulse_name:
            self.pulse_choice[kind] = pulse_name
        else:
            self.pulse_choice.pop(kind, None)

    def _swap_stream(self, kind: DeviceKind, index: int) -> None:
        """Replace one running stream by one on device ``index`` (same rate)."""
        streams = self._streams
        previous = self._in_index if kind == "input" else self._out_index
        latency = self.latency if kind == "input" else self.output_latency
        streams.drop(kind)
        if kind == "output":
            self.ring.requeue_device_queue()
        try:
            self._open_stream(kind, index, latency)
        except AudioError:
            self._start_swapped(kind, previous, latency)  # back to the old one
            raise
        self._start_swapped(kind, None, latency)
        name = next((d.name for d in devices.query(self._sd) if d.index == index), str(index))
        if kind == "input":
            self._in_index, self._in_name = index, name
        else:
            self._out_index, self._out_name = index, name
        self._calls_seen = self.callbacks.calls
        self._stall_since = self._loop.time() if self._loop is not None else 0.0

    def _start_swapped(self, kind: DeviceKind, reopen: int | None, latency: Any) -> None:
        """Start the new stream of ``kind`` (opening it on ``reopen`` first, if given);
        a failure is a lost device."""
        try:
            if reopen is not None:
                self._open_stream(kind, reopen, latency)
            stream = self._streams.input if kind == "input" else self._streams.output
            if kind == "output":
                self._output_starting()
            stream.start()
        except Exception as exc:  # AudioError, PortAudioError: a device that vanished
            self._streams.closing = False
            self._fault(f"audio {kind} could not start: {exc}")
            raise AudioError(f"audio {kind} could not start: {exc}") from exc
        self._streams.closing = False

    def _open_or_fault(self) -> None:
        try:
            self._open()
        except AudioError as exc:
            self._fault(str(exc))

    def _start_recovery(self) -> None:
        if self._recovery is None and self._loop is not None:
            self.recovering = True
            self._recovery = self._loop.create_task(self._recover(), name="audio-recovery")

    async def _recover(self) -> None:
        """Try the devices again with a back-off until they open; tell the listener."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        attempt = 0
        try:
            while self.faulted:
                await asyncio.sleep(retry_delay(attempt, loop.time() - began))
                attempt += 1
                if not self.faulted:
                    break  # reopen() did it meanwhile
                try:
                    changed = await self._reopen_devices()
                except PortAudioStuck as exc:  # for good, most likely: the user is told
                    if self.notice != str(exc) and self._listener is not None:
                        self.notice = str(exc)
                        self._listener.on_audio_fault(self.notice)
                    continue
                except AudioError:
                    continue
                if self._listener is not None:
                    said = self.describe() + (f"; {changed}" if changed else "")
                    self._listener.on_audio_restored(said)
        finally:
            self._recovery = None

    def play(self, item_id: str, pcm: bytes) -> None:
        if not self.has_output:
            return  # text-only until reopen(); nothing would consume the ring
        samples = pcm_to_samples(pcm)
        self._last_play = self._loop.time() if self._loop is not None else 0.0
        if self._out_resampler.active:
            if self._tail_item not in (None, item_id):
                self._flush_resampler_tail()
            self._tail_item = item_id
        self.ring.write(item_id, self._out_resampler.process(samples))
        if self.output_paused and self.ring.pending_samples() >= self._resume_level():
            self._resume_output()

    def _flush_resampler_tail(self) -> None:
        """Push out what soxr holds back of the last item (its filter delay)."""
        if self._tail_item is not None:
            tail = self._out_resampler.process(np.zeros(0, np.int16), last=True)
            self.ring.write(self._tail_item, tail)
            self._out_resampler.reset()
            self._tail_item = None

    def barge_in(self) -> None:
        super().barge_in()
        self._out_resampler.reset()
        self._tail_item = None
        if self.ring.device_queued() > 0 and self.has_output and not self.full_duplex:
            self._drop_device_queue()

    def _drop_device_queue(self) -> None:
        """Abort the output stream (PortAudio drops what its buffer holds) and restart it."""
        try:
            # The callback is stopped meanwhile: the ring's counters are still.
            self._streams.restart_output(self._drop_unheard)
        except Exception as exc:  # a device that vanished meanwhile
            self._fault(f"audio output could not restart: {exc}")

    def _drop_unheard(self) -> None:
        """The output stream is stopped: what its buffer held was never heard, so it is
        neither counted as heard nor kept as the echo reference. It starts again as any
        output start does (:meth:`_output_starting`: a new clock for the reference)."""
        dropped = self.ring.out_count - self.ring.heard_mark
        self.ring.drop_device_queue()
        history = self.callbacks.history
        if history is not None:
            history.silence_unplayed(dropped)
        self._output_starting()

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of the item heard: handed to the device minus what it still holds."""
        return self.ring.heard_ms(item_id)

    def pending_ms(self) -> int:
        if not self.has_output:
            return 0
        return self.ring.pending_ms() + self.ring.device_queued() * 1000 // self.ring.rate

    def stats(self) -> dict[str, int]:
        """``underruns``: times the speaker starved (the device's callback late, or an
        item's audio late); ``overflows``: audio lost because a buffer was full (the
        microphone's or the playback ring's). The rest break these down."""
        rt = self.callbacks
        return {
            "underruns": self.ring.underruns + rt.output_underflows,
            "overflows": rt.input_overflows + rt.capture_ring.overruns + self.ring.overflows,
            "ring_underruns": self.ring.underruns,
            "ring_overflows": self.ring.overflows,
            "prebuffer_ms": self.ring.prebuffer * 1000 // self.ring.rate,
            "output_latency_ms": round(self.output_latency * 1000),
            "discarded": self.ring.discarded,
            "capture_overruns": rt.capture_ring.overruns,
            "capture_dropped": self._capture.dropped,
            "input_overflows": rt.input_overflows,
            "output_underflows": rt.output_underflows,
            "output_pauses": self.output_pauses,
            "output_spins": rt.output_spins,
        }

    # ------------------------------------------------------------------ opening

    def _open(self, *, fallback: bool = False) -> str:
        """Open the streams; raise AudioError if neither direction works.

        ``fallback``: a named device that is not there is replaced by the default; the
        returned line says which went and which is used now (else it is empty)."""
        sd, streams = self._sd, self._streams
        errors: list[str] = []
        gone: list[str] = []
        in_index = self._resolve(self.input_device, "input", gone if fallback else None)
        out_index = self._resolve(self.output_device, "output", gone if fallback else None)
        self._in_index, self._out_index = in_index, out_index
        in_rate = devices.pick_rate(sd, in_index, "input", self.device_rate)
        out_rate = devices.pick_rate(sd, out_index, "output", self.device_rate)
        if self.full_duplex:
            in_rate = out_rate
        self._setup_rates(in_rate, out_rate)
        if self.full_duplex:
            self._open_stream("duplex", (in_index, out_index), self.output_latency)
        else:
            for kind, index, latency in (
                ("input", in_index, self.latency),
                ("output", out_index, self.output_latency),
            ):
                try:
                    self._open_stream(kind, index, latency)
                except AudioError as exc:
                    errors.append(str(exc))
        if not streams.all:
            raise AudioError("; ".join(errors) or "no audio device could be opened")
        names = {d.index: d.name for d in devices.query(sd)}
        self._in_name = names.get(in_index, str(in_index)) if streams.input else ""
        self._out_name = names.get(out_index, str(out_index)) if streams.output else ""
        self.notice = errors[0] if errors else ""
        self._calls_seen = self.callbacks.calls
        self._stall_since = self._loop.time() if self._loop is not None else 0.0
        self._output_starting()
        streams.start()
        return "; ".join(gone)

    def _resolve(self, spec: int | str | None, kind: str, gone: list[str] | None) -> int:
        """The device index for ``spec``; with ``gone``, the default when it is missing."""
        try:
            return devices.resolve_device(self._sd, spec, kind)
        except AudioError:
            if gone is None or spec in (None, ""):
                raise
        index = devices.resolve_device(self._sd, None, kind)
        name = next((d.name for d in devices.query(self._sd) if d.index == index), str(index))
        gone.append(f"{kind} device {spec!r} is gone; using the default ({name})")
        self.watch.lost(kind)  # type: ignore[arg-type]
        return index

    def _open_stream(self, kind: str, device: Any, latency: str | float) -> None:
        rate = self._in_rate if kind == "input" else self._out_rate
        callback = getattr(self.callbacks, kind)
        size = self._blocksize(rate)
        stream = self._streams.open(
            kind, device, rate, size, callback, latency=latency, channels=1, dtype="int16"
        )
        # A full-duplex stream reports (input, output) latencies.
        reported = stream.latency
        in_s, out_s = reported if kind == "duplex" else (reported, reported)
        if kind != "input":
            self.callbacks.out_delay = float(out_s)
        if kind != "output":
            self.callbacks.in_delay = float(in_s)

    def _blocksize(self, rate: int) -> int:
        return max(1, round(rate * self.block_ms / 1000))

    def _setup_rates(self, in_rate: int, out_rate: int) -> None:
        """(Re)build rings, resamplers and meters for the device rates."""
        self._in_rate, self._out_rate = in_rate, out_rate
        self._in_resampler = StreamResampler(in_rate, SAMPLE_RATE)
        if self.ring.rate != out_rate:
            old, self.ring = (
                self.ring,
                PlaybackRing(round(out_rate * self.ring_seconds), rate=out_rate),
            )
            carry_over(old, self.ring)  # what was queued (none after a fault) plays on
        self.ring.prebuffer = max(self.ring.prebuffer, out_rate * self.prebuffer_ms // 1000)
        self._out_resampler = StreamResampler(SAMPLE_RATE, out_rate)
        self._mon_resampler = StreamResampler(out_rate, SAMPLE_RATE)
        self._ref_resampler = StreamResampler(out_rate, SAMPLE_RATE)
        self._set_meters(4 * max(self._blocksize(in_rate), self._blocksize(out_rate)))
        self._setup_reference(in_rate, out_rate)
        self.callbacks.bind(
            ring=self.ring,
            capture_ring=SampleRing(in_rate * CAPTURE_RING_S),
            monitor=SampleRing(out_rate * CAPTURE_RING_S) if self._recorder else None,
            mic_meter=self._mic_meter,
            speaker_meter=self._speaker_meter,
        )

    def _setup_reference(self, in_rate: int, out_rate: int) -> None:
        """The echo reference's history, reader and ring."""
        rt = self.callbacks
        # Built whether or not the reference is sent now: the palette can switch it on.
        history = ReferenceHistory(round(out_rate * REFERENCE_HISTORY_S), out_rate)
        rt.reference = ReferenceReader(
            history,
            in_rate=in_rate,
            max_block=self._blocksize(in_rate),
            slack=max(1, round(out_rate * REFERENCE_SLACK_MS / 1000)),
        )
        rt.reference_ring = SampleRing(out_rate * CAPTURE_RING_S)
        rt.history = history
        self._ref_buf = bytearray()

    def _close_streams(self, *, wait: bool = True) -> None:
        """Abort and close the streams; ``wait=False``: in the background, after what
        PortAudio is doing (a lost device's: the abort may never return)."""
        self._streams.close(wait=wait)
        self.levels[:] = SILENCE_DB

    def _finished_callback(self) -> None:
        if self._streams.closing:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(  # type: ignore[union-attr]
                self._fault, "audio stream ended (device lost?)"
            )

    # ------------------------------------------------------------------ loop side

    def _on_wake(self) -> None:
        self.callbacks.wake_pending = False
        self._drain()

    def _drain(self) -> None:
        """Move captured audio to capture(), played audio to the recorder, report starts."""
        if not self._drain_whole_blocks():
            self._drain_through_buffers()
        monitor = self.callbacks.monitor
        if monitor is not None and self._recorder is not None:
            played = monitor.read_all()
            if played.size:
                self._recorder.add_speaker(self._mon_resampler.process(played))
        self._report_started()

    def _drain_whole_blocks(self) -> bool:
        """The usual case, devices at 24 kHz and whole blocks waiting: each block goes from
        the rings straight into the bytes sent (the microphone, and beside it the
        reference when it is sent), the very bytes :meth:`_drain_through_buffers` makes,
        with a few numpy calls instead of 14 (at 50 blocks a second, with cold caches,
        each costs tens of microseconds). False, having read nothing, when that path must
        run: another rate, a part block carried over, the recorder on, or a reference that
        is behind the microphone."""
        rt = self.callbacks
        size = self.block
        available = rt.capture_ring.available()
        ref_ring = rt.reference_ring
        if (
            available == 0
            or available % size
            or self._mic_buf
            or self._in_resampler.active
            or self._recorder is not None
        ):
            return False
        if ref_ring is not None and (
            self._ref_buf or self._ref_resampler.active or ref_ring.available() < available
        ):
            return False
        for _ in range(available // size):
            frames: np.ndarray
            if ref_ring is not None and self.echo_reference:
                frames = np.empty((size, 2), dtype="<i2")
                rt.capture_ring.read_into(frames[:, 0])
                ref_ring.read_into(frames[:, 1])
            else:
                frames = np.empty(size, dtype="<i2")
                rt.capture_ring.read_into(frames)
                if ref_ring is not None:  # kept in step with the microphone, not sent
                    ref_ring.skip(size)
            if not self.muted:
                self._capture.push(frames.tobytes())
        return True

    def _drain_through_buffers(self) -> None:
        """Captured audio through the resamplers and byte buffers into blocks."""
        # The microphone first, then the reference: the input callback writes a block's
        # reference before its microphone samples, so every microphone sample read here
        # has its reference in what is read next. (The other order lets a block in
        # between: its microphone with no reference yet, which would shift the reference
        # one block later relative to the microphone each time it happens.)
        captured = self.callbacks.capture_ring.read_all()
        ref_ring = self.callbacks.reference_ring
        if ref_ring is not None:
            reference = ref_ring.read_all()
            if reference.size:
                self._ref_buf += self._ref_resampler.process(reference).tobytes()
        if captured.size:
            self._mic_buf += self._in_resampler.process(captured).tobytes()
        size = self.block * 2
        while len(self._mic_buf) >= size:
            if ref_ring is not None and len(self._ref_buf) < size:
                break  # its reference is still in the resampler (two device rates)
            block = bytes(self._mic_buf[:size])
            del self._mic_buf[:size]
            ref = None
            if ref_ring is not None:  # kept in step with the microphone, sent or not
                ref = bytes(self._ref_buf[:size]) if self.echo_reference else None
                del self._ref_buf[:size]
            if self._recorder is not None:
                self._recorder.add_mic(bytes(size) if self.muted else block)
                if ref is not None:
                    self._recorder.add_reference(ref)
            if not self.muted:
                self._capture.push(block if ref is None else interleave(block, ref))

    # ------------------------------------------------------------------ housekeeping
    # Four times a second on the loop: drain for the recorder, release items whose deltas
    # ended, grow the jitter buffer after an item starved and the output buffer after the
    # device starved, and call a stream that stopped or went quiet a lost device.

    def _grow_prebuffer(self) -> None:
        """After an item starved (its audio came late), keep more in hand before playing."""
        if self.ring.underruns == self._underruns_seen:
            return
        self._underruns_seen = self.ring.underruns
        rate = self.ring.rate
        grown = max(2 * self.ring.prebuffer, rate * 40 // 1000)
        self.ring.prebuffer = min(grown, rate * MAX_PREBUFFER_MS // 1000)

    def _grow_output_latency(self) -> None:
        """After the device starved (callbacks came too late), reopen the output stream
        with twice the buffer -- between items, when nothing queued can be lost."""
        underflows = self.callbacks.output_underflows
        if underflows == self._underflows_seen or self.faulted:
            return
        if self.full_duplex or self.output_latency >= MAX_OUTPUT_LATENCY_S:
            self._underflows_seen = underflows
            return
        if self.ring.pending_samples() or self.ring.device_queued() or not self.has_output:
            return
        self._underflows_seen = underflows
        self.output_latency = min(2 * self.output_latency, MAX_OUTPUT_LATENCY_S)
        self._streams.drop_output()
        try:
            self._open_stream("output", self._out_index, self.output_latency)
            self._output_starting()
            self._streams.output.start()
        except Exception as exc:  # AudioError, or a device that vanished meanwhile
            self._streams.closing = False
            self._fault(f"audio output could not reopen: {exc}")
            return
        self._streams.closing = False

    async def _housekeep(self) -> None:
        """Drain for the recorder, release ended items, watch the streams, 4 times a second."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            self._drain()
            if loop.time() - self._last_play > RELEASE_AFTER_S:
                if self._tail_item is not None:
                    self._flush_resampler_tail()  # the item's deltas seem to have ended
                self.ring.release()
            self._grow_prebuffer()
            self._grow_output_latency()
            self._pause_or_resume_output(loop.time())
            if self._recorder is not None:
                self._recorder.flush()
            if self.faulted or not self._streams.all:
                continue
            running = [s for s in self._streams.all if not self._paused(s)]
            try:
                stopped = any(not s.active for s in running)
            except AudioError as exc:  # PortAudioStuck: it did not answer
                self._fault(str(exc))
                continue
            if stopped:
                self._fault("audio stream stopped (device lost?)")
            elif self.callbacks.calls != self._calls_seen or not running:
                self._calls_seen = self.callbacks.calls
                self._stall_since = loop.time()
            elif loop.time() - self._stall_since > STALL_S:
                self._fault(f"no audio callback for {STALL_S:g} s (device lost?)")

    def _paused(self, stream: Any) -> bool:
        return self.output_paused and stream is self._streams.output

    def _resume_level(self) -> int:
        """Samples queued that resume a paused output: a device buffer's worth and a block
        (starting fills the device's buffer at once; with less, silence would follow)."""
        return round(self._out_rate * self.output_latency) + self._blocksize(self._out_rate)

    def _pause_or_resume_output(self, now: float) -> None:
        """Pause the output stream after ``IDLE_PAUSE_S`` with nothing to play; resume a
        paused one whose queued audio was released (the item's audio has all arrived)."""
        ring = self.ring
        if self.output_paused:
            if ring.pending_samples() > 0 and ring.released_all():
                self._resume_output()
            return
        if ring.pending_samples() or ring.device_queued() or ring.started_pending:
            self._output_busy_at = now
            return
        if (
            now - max(self._output_busy_at, self._last_play) < IDLE_PAUSE_S
            or not self.idle_pause
            or self.full_duplex
            or self._recorder is not None
            or not self.has_output
            or not self._output_playing()
        ):
            return
        try:
            self._streams.pause_output()
        except Exception as exc:  # a device that vanished meanwhile
            self._fault(f"audio output could not pause: {exc}")
            return
        self.output_paused = True
        self.output_pauses += 1

    def _resume_output(self) -> None:
        """Start the paused output stream; a failure is a lost device."""
        self._output_starting()
        try:
            self._streams.output.start()
        except Exception as exc:  # PortAudioError: the device vanished while paused
            self._fault(f"audio output could not start: {exc}")

    def _output_starting(self) -> None:
        """The output stream (a new one, or one paused, reopened or restarted by a
        barge-in) is stopped and starts now. Its blocks' times are a new clock: the echo
        reference's reader is laid anew on its first block (:meth:`ReferenceHistory.resume`;
        after a reopen the echo's delay otherwise moved by the old buffer's depth under the
        canceller). It may pause after ``IDLE_PAUSE_S`` from now, and only once the device
        has played from it (see ``_pause_or_resume_output``)."""
        history = self.callbacks.history
        if history is not None:
            history.resume()
        self.output_paused = False
        self._output_busy_at = self._loop.time() if self._loop is not None else 0.0
        self._output_from = self.ring.out_count

    def _output_playing(self) -> bool:
        """The device has played ``PLAYING_S`` from the output stream since it started: a
        stream only filled so far (the sound server has not begun to play it) is not
        paused."""
        played = self.ring.heard_mark - self._output_from
        return played >= round(self._out_rate * PLAYING_S)

    def _fault(self, message: str) -> None:
        if self.faulted or self._streams.closing:
            return
        self.faulted = True
        self.notice = message
        self._close_streams(wait=False)  # the loop never waits on a lost stream's abort
        self.epoch = self.ring.bump_epoch()  # queued audio must not play after a reopen
        self._start_recovery()
        if self._listener is not None:
            self._listener.on_audio_fault(message)


def retry_delay(attempt: int, down_s: float) -> float:
    """Seconds before attempt ``attempt`` (0, 1, ...) to open lost devices again."""
    if attempt < len(RETRY_DELAYS_S):
        return RETRY_DELAYS_S[attempt]
    return RETRY_SLOWLY_EVERY_S if down_s > RETRY_SLOWLY_AFTER_S else RETRY_EVERY_S
