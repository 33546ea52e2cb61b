"""The PortAudio streams of the sound-device backend: open, start, restart, pause, close.

Stopping a stream on purpose makes PortAudio call its finished callback too; ``closing``
is True meanwhile, so the backend does not take that for a lost device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from . import portaudio
from .base import AudioError


class DeviceStreams:
    """The input, output (or one full-duplex) streams in use."""

    def __init__(self, sd: Any, finished_callback: Callable[[], None]) -> None:
        self.sd = sd
        self.finished_callback = finished_callback
        self.all: list[Any] = []
        self.input: Any = None
        self.output: Any = None
        self.closing = False

    def open(
        self, kind: str, device: Any, rate: int, blocksize: int, callback: Any, **common: Any
    ) -> Any:
        """Open one stream of ``kind`` (input, output, duplex); AudioError when it fails.

        Raw streams: the callbacks get PortAudio's buffers as they are, not wrapped in numpy
        arrays by sounddevice (two arrays and a reshape a call, 25-30 us of the callback
        thread's 120-160 us a block: ``benchmarks/RESULTS.md``, lean-send-path run 6); the
        callbacks view them as int16 samples themselves."""
        cls = {"input": self.sd.RawInputStream, "output": self.sd.RawOutputStream}.get(
            kind, self.sd.RawStream
        )
        try:
            stream = cls(
                device=device,
                samplerate=rate,
                blocksize=blocksize,
                callback=callback,
                finished_callback=self.finished_callback,
                **common,
            )
        except Exception as exc:  # PortAudioError, ValueError from an odd device
            what = (
                "full-duplex audio stream" if kind == "duplex" else f"audio {kind} device {device}"
            )
            raise AudioError(f"cannot open {what}: {exc}") from exc
        if kind != "output":
            self.input = stream
        if kind != "input":
            self.output = stream
        self.all.append(stream)
        return stream

    def start(self) -> None:
        """Start every stream opened; on failure close them all and raise AudioError."""
        self.closing = False
        try:
            for stream in self.all:
                stream.start()
        except Exception as exc:
            self.close()
            raise AudioError(f"cannot start audio stream: {exc}") from exc

    def close(self, *, wait: bool = True) -> None:
        """Abort and close every stream (safe to call twice). ``wait=False``: on the
        PortAudio thread, not waited for (:func:`.portaudio.in_background`)."""
        self.closing = True
        streams, self.all = self.all, []
        self.input = self.output = None
        if wait:
            _abort_all(streams)
        elif streams:
            portaudio.in_background(self.sd, _abort_all, streams, name="the lost streams' abort")

    def restart_output(self, while_stopped: Callable[[], None]) -> None:
        """Abort the output stream (PortAudio drops what its buffer holds), call
        ``while_stopped``, start it again. Raises what PortAudio raises."""
        self.closing = True
        try:
            self.output.abort()
            while_stopped()
            self.output.start()
        finally:
            self.closing = False

    def pause_output(self) -> None:
        """Abort the output stream (it holds only silence) and keep it, to start again.
        Raises what PortAudio raises."""
        self.closing = True
        try:
            self.output.abort()
        finally:
            self.closing = False

    def drop_output(self) -> None:
        """Abort and forget the output stream, to open it again (``closing`` stays set)."""
        self.drop("output")

    def drop(self, kind: str) -> None:
        """Abort and forget the ``input`` or ``output`` stream, to open another in its
        place (``closing`` stays set until that one starts)."""
        self.closing = True
        stream = self.input if kind == "input" else self.output
        if stream is None:
            return
        _abort(stream)
        self.all.remove(stream)
        if kind == "input":
            self.input = None
        else:
            self.output = None


def _abort_all(streams: list[Any]) -> None:
    for stream in streams:
        _abort(stream)


def _abort(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.abort()
    with contextlib.suppress(Exception):
        stream.close()
