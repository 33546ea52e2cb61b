"""Echo cancellation of the input audio, before VAD and recognition.

``input_audio_echo_cancellation`` (API 2026-07-15) picks where the reference comes from:

- ``reference_source: "client"`` with ``channels: 2``: every append is interleaved stereo
  PCM16, channel 0 the microphone, channel 1 what the client played (the reference);
- ``reference_source: "server"`` (the default): the reference is the agent's own audio as
  the emulator sent it, assumed played from the moment it was sent, at real-time speed
  (queued after what was sent before). A client that holds playback back (a deep buffer,
  a forwarded audio socket) plays it later than that, beyond :data:`SERVER_SEARCH_MS`,
  and its echo is heard as the user speaking: the service's known weakness, which client
  reference exists to fix.

Either way :class:`EchoCanceller` finds the echo's delay in the reference by
cross-correlation, fits a short filter around it by least squares over the last
:data:`FIT_MS` of audio (both again every :data:`REFIT_MS` while the reference plays), and
subtracts the filtered reference from the microphone. A delay (and the echo's level) is
learnt only from a window the fit at that delay explains (:data:`FIT_GOOD`): a window that
holds the user (double talk, or the user answering while the reference's last words are
still in reach) never moves them. Mid-reply, a confirmed fit that stops taking the echo out
(the devices dropped or doubled a block: the echo moved by 20 ms) looks again at once, within
:data:`MOVE_MS` of the delay over the last :data:`RECHECK_MS` only, and moves the delay when
the fit there explains that audio and the old one does not; until :data:`FIT_MS` has passed,
fits look only at the audio since the move. Residual echo suppression follows, per 10 ms
frame: a frame that then holds less than half of the echo's energy holds only echo the fit
missed, and is made 30 dB quieter. With a client reference (what was played) a frame no louder than
the loudest echo the reference can make is echo too: before the delay is confirmed at any
lag up to :data:`GUARD_MS`, afterwards around the delay (and only if the fit took little
out of it: a real loopback's resampler slips). The delay is confirmed anew whenever the
reference sounds again after :data:`REST_MS` of digital silence (a reply starts, or its
audio came late and the speaker ran dry): a client may lay its reference anew on its clock
while its speaker is silent, which moves the echo's delay, and the first echo after that
must not find the canceller looking at the old one. Echo of what sounded before the stream
began has no reference at all: while the speaker plays in the stream's first
:data:`GUARD_MS` (its reference is not digital silence, if quiet), a frame whose echo could
come from before the stream is echo. The user talking over the echo is louder than that
(double talk) and passes.
Without ``input_audio_echo_cancellation`` nothing is cancelled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .speech import resample_pcm16
from .state import SessionConfigError

__all__ = [
    "CLIENT_SEARCH_MS",
    "SERVER_SEARCH_MS",
    "EchoCanceller",
    "EchoError",
    "InputEcho",
    "ServerReference",
    "check_echo_settings",
    "echo_channels",
    "echo_settings",
]

CLIENT_SEARCH_MS = 1000
"""Longest echo delay looked for behind a client's reference (the room and the devices)."""
SERVER_SEARCH_MS = 400
"""Longest delay looked for behind the send-time reference (playback, network jitter)."""
REANCHOR_S = 0.5
"""Microphone audio this far off its expected time lays the microphone anew on the clock."""
FIT_MS = 300
"""Audio the echo path is fitted over."""
TAPS = 24
"""Length of the fitted echo path (1 ms at 24 kHz), starting 4 samples before the delay."""
RESIDUAL_SHARE = 0.5
"""Left less than this share (-3 dB) of the echo's energy: what is left is echo too."""
SUPPRESS = 0.03
"""Gain (-30 dB) on a 10 ms frame whose remainder is echo."""
DOUBLE_TALK = 2.0
"""A frame this much (3 dB) louder than the loudest echo the reference can make is the user."""
FIT_FAILED = 0.5
"""A converged fit that leaves more than this share (-3 dB) of a frame did not fit it."""
UNKNOWN_COUPLING = 1.0
"""Echo level, as a share of the reference's energy, assumed until one is measured (0 dB)."""
GUARD_MS = CLIENT_SEARCH_MS
"""Lags at which echo is expected before the delay is confirmed: all that is searched (a
client's reference can be hundreds of milliseconds off in its stream's first seconds, while
PulseAudio's capture times settle)."""
SPREAD_MS = 30
"""Lags either side of a converged delay whose reference can still be in the echo: drift,
and a block (20 ms) the devices dropped under load (seen: the echo 20.9 ms earlier behind
the reference mid-reply), until the delay is measured there."""
CONFIDENT_PEAK = 6.0
"""A correlation peak this many standard deviations high is a delay; lower keeps the last."""
BUSY_SHARE = 0.8
"""Share of loud frames the microphone's window needs for a new delay to be measured."""
REFIT_MS = 100
"""How often the delay and the echo path are estimated again while the reference plays."""
QUIET_RESIDUAL = 1e-5
"""Mean square level (-50 dBFS) of a microphone that hears no echo."""
FIT_GOOD = 0.25
"""A fit leaving less than this share (-6 dB) of its window: the window is echo, and what
was measured on it (the delay, the echo's level) is learnt."""
RECHECK_MS = 60
"""Audio a moved delay is looked for in, and fitted over, once the fit stops taking the echo
out mid-reply: the last of it only, so the audio from before the move does not hide the new
delay (the full FIT_MS window holds both until FIT_MS after the move)."""
FIT_MOVED = 0.05
"""A fit at a moved delay must leave less than this share (-13 dB) of its RECHECK_MS: over
so little audio the user's voice can fit at a lag near the echo's (seen: -9 dB, the user
and the agent both espeak-ng's voice); the echo at its new delay leaves next to nothing."""
MOVE_MS = 60
"""Lags either side of a converged delay a moved delay is looked for at (a block or two the
devices dropped or doubled)."""
RECHECK_BUSY = 0.5
"""Share of loud frames RECHECK_MS needs for a moved delay to be looked for: half, so that
echo resuming after a pause at a moved delay is caught within its first 30 ms (VAD's
onset)."""
REST_MS = 100
"""The reference digital silence this long (the client's speaker had nothing to play: a reply
ended, or its audio came late), then sounding: the delay is confirmed anew. (Speech has no
such silence: espeak-ng's pauses between sentences are quiet, not zero.)"""


class EchoError(SessionConfigError):
    """An echo cancellation setting the service rejects, with its error code."""

    def __init__(self, code: str, message: str, param: str) -> None:
        super().__init__(message, param)
        self.code = code


def echo_settings(session: dict[str, Any]) -> tuple[str, int] | None:
    """(reference source, channels) of the session, or None without echo cancellation."""
    ec = session.get("input_audio_echo_cancellation")
    if not isinstance(ec, dict):
        return None
    return str(ec.get("reference_source") or "server"), int(ec.get("channels") or 1)


def echo_channels(session: dict[str, Any]) -> int:
    """Channels of the input audio: 2 with a client reference, else 1."""
    settings = echo_settings(session)
    return settings[1] if settings else 1


def check_echo_settings(
    session: dict[str, Any], update: dict[str, Any], audio_started: bool
) -> None:
    """Reject (:class:`EchoError`) what the service rejects in ``update``:
    ``invalid_ec_reference_channels`` (channels not 1 or 2, or a client reference without
    its channel), ``invalid_ec_channels_requires_client`` (2 channels with a server
    reference), ``invalid_ec_channels_format`` (2 channels of anything but pcm16) and
    ``change_in_ec_channels_not_allowed`` (channels changed once input audio has come)."""
    param = "session.input_audio_echo_cancellation"
    if "input_audio_echo_cancellation" not in update and "input_audio_format" not in update:
        return
    ec = update.get("input_audio_echo_cancellation", session.get("input_audio_echo_cancellation"))
    if isinstance(ec, dict):
        kind = ec.get("type", "server_echo_cancellation")
        if kind != "server_echo_cancellation":
            raise SessionConfigError(
                f"Unsupported echo cancellation type {kind!r} (server_echo_cancellation)",
                f"{param}.type",
            )
        source = ec.get("reference_source", "server") or "server"
        if source not in ("server", "client"):
            raise SessionConfigError(
                "reference_source must be 'server' or 'client'", f"{param}.reference_source"
            )
        channels = ec.get("channels", 1) or 1
        if channels not in (1, 2) or isinstance(channels, bool):
            raise EchoError(
                "invalid_ec_reference_channels",
                f"channels must be 1 or 2, not {channels!r}.",
                f"{param}.channels",
            )
        if source == "client" and channels != 2:
            raise EchoError(
                "invalid_ec_reference_channels",
                "reference_source 'client' needs channels 2: the reference is channel 1 of"
                " stereo input.",
                f"{param}.channels",
            )
        if channels == 2 and source != "client":
            raise EchoError(
                "invalid_ec_channels_requires_client",
                "channels 2 needs reference_source 'client'.",
                f"{param}.reference_source",
            )
        fmt = update.get("input_audio_format", session.get("input_audio_format") or "pcm16")
        if channels == 2 and fmt != "pcm16":
            raise EchoError(
                "invalid_ec_channels_format",
                f"channels 2 needs input_audio_format 'pcm16', not {fmt!r}.",
                "session.input_audio_format",
            )
    new = echo_channels({"input_audio_echo_cancellation": ec})
    if audio_started and new != echo_channels(session):
        raise EchoError(
            "change_in_ec_channels_not_allowed",
            "The number of input channels cannot change once input audio has been sent.",
            f"{param}.channels",
        )


def _filtered(cols: np.ndarray, taps: np.ndarray | None) -> np.ndarray:
    """The reference through the echo path: ``taps @ cols`` in numpy's own loops (einsum
    without ``optimize``), on this thread. Not through BLAS: OpenBLAS spreads a product of
    a few thousand samples over every core, whose threads then spin waiting for work; on
    2 busy cores that took 5-10x the CPU of the whole canceller (``benchmarks/echo.py``).
    The 24 x 24 solve is too small for BLAS to use threads."""
    assert taps is not None  # fitted before it is used
    return np.einsum("kt,k->t", cols, taps)


def _frame_power(x: np.ndarray, frame: int) -> np.ndarray:
    """Mean square of each whole ``frame`` of ``x``."""
    whole = x[: len(x) - len(x) % frame].reshape(-1, frame)
    return np.asarray(np.mean(whole * whole, axis=1))


def _floats(pcm: bytes | np.ndarray) -> np.ndarray:
    if isinstance(pcm, np.ndarray):
        return pcm.astype(np.float32)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


class EchoCanceller:
    """Subtracts the echo of a reference from the microphone, chunk by chunk."""

    def __init__(self, rate: int, search_ms: int, played: bool = False) -> None:
        self.rate = rate
        self.played = played
        """The reference is what was played (a client's), so no echo is louder than it
        makes: a frame no louder than that is suppressed unless the user is talking."""
        self.search = rate * search_ms // 1000
        self.fit = rate * FIT_MS // 1000
        keep = self.search + self.fit + TAPS
        self._mic = np.zeros(self.fit, dtype=np.float32)
        self._ref = np.zeros(keep, dtype=np.float32)
        self.delay: int | None = None
        """Samples the echo lags the reference by (the last estimate)."""
        self._taps: np.ndarray | None = None
        self._since_fit = 0
        self._span = self.fit
        """Samples of the last FIT_MS since the delay last moved mid-reply: all the fit
        and the delay's search look at (the audio before the move is at the old delay)."""
        self._refit = rate * REFIT_MS // 1000
        self._fitted_quiet = True
        self._measured = False
        self.converged = False
        """The delay was measured on a window full of echo that the fit at it explains."""
        self._learnt = False
        """A delay was confirmed once: the first guess of every later reply."""
        self.coupling = UNKNOWN_COUPLING
        """The echo's energy as a share of the reference's (measured once converged)."""
        self.cancelled_db = 0.0
        """How much quieter the last chunk was after cancellation (dB)."""
        self._known = 0
        """Samples of the reference window that came in the stream (older: before it)."""
        self._silent = self.rate * REST_MS // 1000
        """Samples since the reference last sounded (the stream starts after a rest)."""

    def process(self, mic: bytes, reference: bytes | np.ndarray) -> bytes:
        """The microphone chunk (PCM16) with the reference's echo removed; both chunks are
        the same length in samples, the reference as PCM16 bytes or floats in -1..1."""
        m, r = _floats(mic), _floats(reference)
        n = len(m)
        self._mic = np.concatenate([self._mic, m])[-self.fit :]
        self._ref = np.concatenate([self._ref, r])[-len(self._ref) :]
        self._known = min(self._known + n, len(self._ref))
        self._span = min(self._span + n, self.fit)
        self._follow_replies(r)
        if n == 0 or (self._quiet() and not self._before_stream_in_reach()):
            self.cancelled_db, self._taps = 0.0, None
            return mic
        self._since_fit += n
        if self._taps is None or self._since_fit >= self._refit:
            self._fit()
        echo = _filtered(self._columns(n), self._taps)
        if self._fitted_quiet and float(np.mean(m**2)) > QUIET_RESIDUAL:
            self._fit(arrived=True)  # the echo just arrived (the last fit heard none)
            echo = _filtered(self._columns(n), self._taps)
        cleaned = m - echo
        if self._lost(m, cleaned) and self._moved():
            echo = _filtered(self._columns(n), self._taps)
            cleaned = m - echo
        self._suppress(m, echo, cleaned)
        before = float(np.mean(m**2)) + 1e-12
        self.cancelled_db = 10 * np.log10(before / (float(np.mean(cleaned**2)) + 1e-12))
        out = np.clip(cleaned * 32768.0, -32768, 32767).astype("<i2")
        return bytes(out.tobytes())

    def _follow_replies(self, r: np.ndarray) -> None:
        """The reference sounds again after REST_MS of digital silence: nothing played
        meanwhile, and a client may lay its reference anew on its clock then (which moves
        the echo's delay). The delay is confirmed anew, the last one kept as the first guess."""
        frame = self.rate // 100
        sounding = np.flatnonzero(_frame_power(r, frame) > 0.0)
        if not len(sounding):
            self._silent += len(r)
            return
        if self._silent + int(sounding[0]) * frame >= self.rate * REST_MS // 1000:
            self.converged, self._measured = False, False
        self._silent = len(r) - (int(sounding[-1]) + 1) * frame

    def _before_stream_in_reach(self) -> bool:
        """Echo could come from before the stream began, and the speaker was playing then
        (the reference is not digital silence, if quiet: a pause between the agent's words)."""
        known = self._ref[len(self._ref) - self._known :]
        guard = min(self.search, self.rate * GUARD_MS // 1000)
        return not self.converged and self._known < guard + self.rate // 100 and bool(known.any())

    def _quiet(self) -> bool:
        """No 10 ms frame of the reference in reach of the echo (what came in the stream)
        is louder than a microphone that hears no echo."""
        known = self._ref[len(self._ref) - self._known :]
        return not len(known) or float(np.max(_frame_power(known, self.rate // 100))) < (
            QUIET_RESIDUAL
        )

    def _fit(self, arrived: bool = False) -> None:
        # A delay is measured when the first echo of a reply arrives, then on windows full
        # of echo; through pauses the last one holds (the room does not move between two
        # words).
        span = self._span
        busy = self._busy(self._mic[-span:]) > BUSY_SHARE
        trusted = False
        if (arrived and not self._measured) or busy:
            previous = self.delay if self._measured or self._learnt else None
            found, confident = self._find_delay(previous, span)
            self._measured = True
            self.delay = found
            left = self._solve(span)
            # The first echo is measured on a few milliseconds of it, and the user talking
            # over the echo (or answering while the reference's last words are in reach)
            # gives a window full of something else: a delay is learnt (and a confirmed one
            # moved: the devices dropped a block, the room changed) only when the fit at it
            # explains a window full of echo.
            trusted = busy and confident and left < FIT_GOOD
            if self.converged and not trusted and previous is not None and found != previous:
                self.delay = previous  # what the user said does not move a confirmed delay
                self._solve(span)
            self.converged = self.converged or trusted
            self._learnt = self._learnt or trusted
        else:
            if self.delay is None:
                self.delay = self.search
            self._solve(span)
        if trusted:
            cols = self._columns(span)
            echo, direct = _filtered(cols, self._taps), cols[4]
            self.coupling = float(np.mean(echo**2)) / (float(np.mean(direct**2)) + 1e-12)
        self._since_fit = 0
        self._fitted_quiet = float(np.mean(self._mic[-self._refit :] ** 2)) < QUIET_RESIDUAL

    def _solve(self, length: int | None = None) -> float:
        """Fit the echo path at the delay over the last ``length`` samples (FIT_MS); the
        share of the microphone's energy the fit leaves."""
        length = length or self.fit
        cols, mic = self._columns(length), self._mic[-length:]
        # Least squares by the normal equations, in numpy's own loops (see _filtered).
        gram = np.einsum("it,jt->ij", cols, cols) + 1e-6 * np.eye(TAPS, dtype=np.float32)
        self._taps = np.linalg.solve(gram, np.einsum("kt,t->k", cols, mic))
        left = mic - _filtered(cols, self._taps)
        return float(np.mean(left**2)) / (float(np.mean(mic**2)) + 1e-12)

    def _lost(self, mic: np.ndarray, cleaned: np.ndarray) -> bool:
        """A confirmed fit took little (less than FIT_FAILED) out of a chunk that sounds:
        the user talking over the echo, or the echo moved (a block the devices dropped)."""
        if not self.converged:
            return False
        level = float(np.mean(mic**2))
        return level > QUIET_RESIDUAL and float(np.mean(cleaned**2)) > FIT_FAILED * level

    def _moved(self) -> bool:
        """Look for the echo within MOVE_MS of the confirmed delay over the last
        RECHECK_MS (RECHECK_BUSY of it loud), and move there if the fit at the lag found
        explains that audio (FIT_MOVED) where the fit at the delay did not (twice what it
        leaves): the user's words fit at no lag, so they never move it. Whether it moved
        (else the fit is as it was). From the move on, the fit and the delay's search look
        only at the audio since (``_span``)."""
        assert self.delay is not None
        length = self.rate * RECHECK_MS // 1000
        if self._busy(self._mic[-length:]) < RECHECK_BUSY:
            return False
        spread = self.rate * MOVE_MS // 1000
        lags = (max(4, self.delay - spread), min(self.search, self.delay + spread))
        found, confident = self._find_delay(self.delay, length, lags)
        if not confident or self.delay - 4 <= found < self.delay - 4 + TAPS:
            return False  # the fitted echo path already reaches that lag
        delay, taps = self.delay, self._taps
        stays = self._solve(length)
        self.delay = found
        moves = self._solve(length)
        if moves < FIT_MOVED and 2 * moves < stays:
            self._since_fit, self._span = 0, length
            return True
        self.delay, self._taps = delay, taps
        return False

    def _suppress(self, mic: np.ndarray, echo: np.ndarray, cleaned: np.ndarray) -> None:
        """Residual echo suppression, 10 ms frame by frame, in place on ``cleaned``.

        A frame is echo when the fit removed most of it (what is left is echo the linear
        fit missed: a real room, a resampler) or, with a played reference, when it is no
        louder than the loudest echo the reference could make at the lags the echo can
        have: around the delay once converged, anywhere up to GUARD_MS before (the first
        echo). Echo is made SUPPRESS quieter; the user talking over it is louder than both
        (double talk) and passes."""
        n, frame = len(mic), self.rate // 100
        starts = np.arange(0, n, frame)
        sizes = np.diff(np.append(starts, n))
        left = np.add.reduceat(cleaned * cleaned, starts) / sizes
        echo_like = left < RESIDUAL_SHARE * np.add.reduceat(echo * echo, starts) / sizes
        if self.played:
            power = np.cumsum(self._ref.astype(np.float64) ** 2)
            ends = len(self._ref) - n + starts + sizes  # of the frames, in the reference
            if self.converged and self.delay is not None:
                spread = self.rate * SPREAD_MS // 1000
                lags = np.arange(max(0, self.delay - spread), self.delay + spread + 1, frame // 2)
            else:
                guard = min(self.search, self.rate * GUARD_MS // 1000)
                lags = np.arange(0, guard + 1, frame // 2)
            at = np.clip(ends[:, None] - lags[None, :], frame, len(power) - 1)
            loudest = np.max(power[at] - power[at - frame], axis=1) / frame
            mic_level = np.add.reduceat(mic * mic, starts) / sizes
            could_be_echo = mic_level < DOUBLE_TALK * self.coupling * loudest
            if not self.converged:
                # Its echo could come from before the stream began: no reference to
                # compare it with, and the reference sounds (the agent was speaking).
                could_be_echo |= np.min(at, axis=1) - frame < len(self._ref) - self._known
            else:
                # The fit works on what is echo: a frame it took little out of is echo
                # only when the fit failed (a resampler's slip), else the user over it.
                could_be_echo &= left > FIT_FAILED * mic_level
            echo_like |= could_be_echo
        cleaned *= np.repeat(np.where(echo_like, SUPPRESS, 1.0), sizes).astype(np.float32)

    def _busy(self, x: np.ndarray) -> float:
        """Share of the 10 ms frames of ``x`` louder than QUIET_RESIDUAL."""
        frame = self.rate // 100
        frames = x[: len(x) - len(x) % frame].reshape(-1, frame)
        return float(np.mean(np.mean(frames**2, axis=1) > QUIET_RESIDUAL))

    def _columns(self, length: int) -> np.ndarray:
        """``TAPS`` rows of reference samples, one column per microphone sample of the last
        ``length``: ``cols[k, i]`` is the reference ``delay - 4 + k`` samples before it (a
        view of the reference, not a copy)."""
        assert self.delay is not None
        end = len(self._ref) - self.delay + 4
        windows = np.lib.stride_tricks.sliding_window_view(self._ref, length)
        return windows[end - length - TAPS + 1 : end - length + 1][::-1]

    def _find_delay(
        self, previous: int | None, length: int | None = None, lags: tuple[int, int] | None = None
    ) -> tuple[int, bool]:
        """The lag (samples, within ``lags``: all that is searched) at which the reference
        best matches the last ``length`` (FIT_MS) of mic (``previous`` when no lag stands
        out), and whether one stood out."""
        length = length or self.fit
        low, high = lags or (0, self.search)
        end = len(self._ref) - low
        mic, ref = self._mic[-length:], self._ref[end - length - (high - low) : end]
        size = 1 << int(np.ceil(np.log2(len(ref) + len(mic))))
        spectrum = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        # Phase transform (GCC-PHAT): every frequency weighs the same, so the peak is sharp
        # even when only a few milliseconds of echo are in the window yet.
        magnitude = np.abs(spectrum)
        spectrum /= magnitude + 0.1 * float(np.mean(magnitude)) + 1e-12  # not the empty bins
        corr = np.abs(np.fft.irfft(spectrum, size)[: high - low + 1])
        best = int(np.argmax(corr))
        confident = bool(corr[best] >= CONFIDENT_PEAK * float(np.std(corr)))
        if previous is not None and not confident:
            return previous, False
        # corr[j] pairs mic[t] with ref[j + t]: the echo lags by high - j samples.
        return max(4, min(high - best, self.search)), confident


class ServerReference:
    """The agent's audio as the emulator sent it, laid out on the clock at which it was
    sent: what a client playing it straight away, at real-time speed, plays."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._start = 0.0
        """Clock time of the first sample of ``_audio``."""
        self._audio = np.zeros(0, dtype=np.float32)
        self.canceller = EchoCanceller(rate, SERVER_SEARCH_MS)
        self._mic_clock: float | None = None
        """Clock time of the end of the microphone audio received so far."""

    def sent(self, pcm: bytes, now: float) -> None:
        """The emulator sent ``pcm`` (at :attr:`rate`) at clock time ``now``."""
        if not len(self._audio):
            self._start = now
        end = self._start + len(self._audio) / self.rate
        samples = _floats(pcm)
        if now > end:  # silence since the last audio ended
            gap = np.zeros(int((now - end) * self.rate), dtype=np.float32)
            samples = np.concatenate([gap, samples])
        self._audio = np.concatenate([self._audio, samples])
        # Keep only what can still be referred to.
        keep = int(self.rate * (SERVER_SEARCH_MS + FIT_MS + 2000) / 1000)
        if len(self._audio) > 2 * keep:
            drop = len(self._audio) - keep
            self._audio = self._audio[drop:]
            self._start += drop / self.rate

    def stopped(self, now: float) -> None:
        """Playback was cut at ``now`` (a barge-in): the rest is never played."""
        cut = max(0, int((now - self._start) * self.rate))
        self._audio = self._audio[:cut]

    def played(self, n: int, now: float) -> np.ndarray:
        """The ``n`` samples played up to ``now`` (zeros where nothing played)."""
        end = int((now - self._start) * self.rate)
        start = end - n
        out = np.zeros(n, dtype=np.float32)
        lo, hi = max(start, 0), min(end, len(self._audio))
        if hi > lo:
            out[lo - start : hi - start] = self._audio[lo:hi]
        return out

    def process(self, mic: bytes, now: float) -> bytes:
        """The microphone chunk that arrived at ``now`` with the sent audio's echo removed.

        The microphone is a steady clock: its samples are laid on the server's clock from
        the first chunk on (again after a gap or a jump of more than REANCHOR_S), so the
        reference stays continuous whatever the network does to single chunks."""
        n = len(mic) // 2
        start = now - n / self.rate
        if self._mic_clock is None or abs(start - self._mic_clock) > REANCHOR_S:
            self._mic_clock = start
        self._mic_clock += n / self.rate
        return self.canceller.process(mic, self.played(n, self._mic_clock))


class InputEcho:
    """A session's echo cancellation as its settings say: what the input audio goes
    through before VAD and recognition."""

    def __init__(self) -> None:
        self.settings: tuple[str, int] | None = None
        self.rate = 24000
        self._client: EchoCanceller | None = None
        self._server: ServerReference | None = None

    @property
    def channels(self) -> int:
        return self.settings[1] if self.settings else 1

    def configure(self, session: dict[str, Any]) -> None:
        """Follow the session's settings (a change starts afresh)."""
        settings = echo_settings(session)
        rate = int(session.get("input_audio_sampling_rate") or 24000)
        if settings == self.settings and rate == self.rate:
            return
        self.settings, self.rate = settings, rate
        self._client = self._server = None
        if settings == ("client", 2):
            self._client = EchoCanceller(rate, CLIENT_SEARCH_MS, played=True)
        elif settings is not None:
            self._server = ServerReference(rate)

    def microphone(self, pcm: bytes, now: float) -> bytes:
        """The microphone's mono PCM16 from an append (stereo: channel 0), echo removed."""
        if self._client is not None:
            frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
            return self._client.process(frames[:, 0].tobytes(), frames[:, 1].tobytes())
        if self._server is not None:
            return self._server.process(pcm, now)
        return pcm

    def sent(self, pcm: bytes, rate: int, now: float) -> None:
        """The agent's audio went out at ``now`` (the server reference)."""
        if self._server is not None and pcm:
            if rate != self.rate:
                pcm = resample_pcm16(pcm, rate, self.rate)
            self._server.sent(pcm, now)

    def stopped(self, now: float) -> None:
        """The agent's audio was cut (the server reference plays no more of it)."""
        if self._server is not None:
            self._server.stopped(now)
