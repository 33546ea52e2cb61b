"""The speech recogniser's own process: pocketsphinx on PCM16 turns, one request at a time.

Run as a script (``python recogniser_worker.py``, without importing the package) by
:mod:`.recognition`. pocketsphinx holds the GIL while it decodes (a 2 s turn: about
0.25 s), so it runs in a process of its own: the emulator's event loop, and the audio
events it sends, never wait for it.

Protocol (stdin/stdout, binary): a request is one JSON line followed by ``bytes`` bytes of
mono PCM16 at ``rate``; each request gets one JSON answer line (or ``{"error": ...}``). The
first line the process writes is ``{"ready": true}`` (or ``{"error": ...}``).

- ``{"op": "turn", "rate", "bytes", "keyphrases", "stream"?}``: a committed turn, decoded
  whole; the answer is ``{"final": text, "words": [[word, start_ms, duration_ms, prob],
  ...], "cpu_s": s}``. ``stream`` names the turn's stream, which ends with it.
- ``{"op": "step", "stream", "rate", "bytes"}``: more audio of a turn still being spoken;
  the answer is the decoder's partial hypothesis so far, ``{"partial": [[word, end_ms],
  ...], "heard_ms": ms, "cpu_s": s}`` (what streaming transcription deltas are made of).
- ``{"op": "close", "stream", "bytes": 0}``: forget a stream (its turn was cleared).

Decoding a turn: when the request names keyphrases (the session's ``phrase_list`` and its
tools' words), a keyword-spotting pass over the turn looks for them. The general
US-English language model then decodes the whole turn in one pass (the cepstral mean
taken over the turn); a phrase spotted replaces the words the language model heard at
its time (the bias a phrase list gives the service's recogniser). Partial hypotheses come
from the same decoder fed as the audio arrives (the cepstral mean estimated as it goes:
on espeak-ng sentences about twice the word errors of the one pass,
``benchmarks/recognition.py``), so the committed turn is still decoded in one pass for
its final words. One decoder serves every stream (each costs about 90 MB): a step for
another stream than the one it is decoding starts that stream's utterance again from its
first sample.
"""

from __future__ import annotations

import json
import sys
import time
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

RATE = 16000
"""The acoustic model's sample rate."""
FRAME_MS = 10
KEYPHRASE_THRESHOLD = "1e-10"
"""Keyword-spotting threshold: lower finds more, and more false alarms (at 1e-15 "time" was
heard in "Sorry, stop. That is enough"); set on the sentences of
``benchmarks/recognition.py``, where 1e-10 found "weather" and "story" and nothing false."""
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "<unk>"}
FLOOR_SNR_DB = 28.0
"""Before decoding, white noise fills the audio up to a floor this far below its speech
(the loudest tenth of its 10 ms frames); audio already that noisy gets none. The acoustic
model learnt from speech recorded with noise: on clean synthetic speech and digital silence
(espeak-ng, a WAV file, a null sink) it went wrong on 75-77 % of the words, with the floor
on 28-29 % (``benchmarks/recognition.py``; 20, 25, 28, 30 and 35 dB were tried, 25-30 best)."""
MAX_HMM_PER_FRAME = 6000
"""The decoder's search keeps at most this many HMMs a frame (pocketsphinx's default:
30000). On ``benchmarks/recognition.py``'s 20 sentences at 140 and 175 words/min: WER
29 / 28 % -> 28 / 28 %, CPU per second of audio 0.14-0.15 -> 0.11-0.12 s; 4000 cost 3
points at 175 words/min, 3000 six."""
MAX_STREAMS = 8
"""Streams kept at once; the least recently fed is forgotten beyond (a session that
vanished mid-turn)."""
MAX_STREAM_S = 60
"""Audio of one stream decoded for partial hypotheses at most (the turn is still decoded
whole when committed)."""


def floor_noise(audio: bytes) -> float:
    """The standard deviation of the white noise that brings ``audio`` (PCM16) up to the
    noise floor of :data:`FLOOR_SNR_DB` (0: it is that noisy already)."""
    x = np.frombuffer(audio, dtype="<i2").astype(np.float32)
    frame = RATE * FRAME_MS // 1000
    n = x.size // frame
    if n == 0:
        return 0.0
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    speech, quiet = np.percentile(energy, 90), np.percentile(energy, 10)
    return float(np.sqrt(max(0.0, speech / 10 ** (FLOOR_SNR_DB / 10) - quiet)))


def with_noise(audio: bytes, sigma: float, seed: int) -> bytes:
    """``audio`` (PCM16) with white noise of standard deviation ``sigma`` added."""
    if sigma <= 0 or not audio:
        return audio
    x = np.frombuffer(audio, dtype="<i2").astype(np.float32)
    x += np.random.default_rng(seed).normal(0.0, sigma, x.size).astype(np.float32)
    return bytes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


Word = tuple[str, int, int, float]
"""(word, start ms, duration ms, posterior probability)."""


def _words(decoder: Any) -> list[Word]:
    """(word, start ms, duration ms, posterior) of the decoder's best path, fillers out."""
    out: list[Word] = []
    for seg in decoder.seg() or ():  # None when nothing was heard
        word = seg.word.split("(")[0].strip()  # "our(3)": the third pronunciation of "our"
        if word in _FILLERS or word.startswith("++") or word.startswith("["):
            continue
        start = seg.start_frame * FRAME_MS
        out.append((word, start, (seg.end_frame + 1) * FRAME_MS - start, float(seg.prob)))
    return out


class _Stream:
    """A turn still being spoken: its audio so far at :data:`RATE`."""

    def __init__(self, rate: int, noise: float) -> None:
        import soxr

        self.resampler = None if rate == RATE else soxr.ResampleStream(rate, RATE, 1, "int16")
        self.noise = noise
        """The noise floor's level: the last whole turn's, until this one's own is higher
        (its first chunks may hold little speech)."""
        self.heard = bytearray()
        """As it came (it sets the noise floor)."""
        self.audio = bytearray()
        """With the noise floor, as decoded."""

    def add(self, pcm: bytes) -> bytes:
        """Append ``pcm`` (resampled, the noise floor added); return what was added."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if self.resampler is not None:
            samples = self.resampler.resample_chunk(samples)
        chunk = samples.astype("<i2").tobytes()
        self.heard += chunk
        self.noise = max(self.noise, floor_noise(bytes(self.heard)))
        chunk = with_noise(chunk, self.noise, len(self.heard))
        self.audio += chunk
        return chunk


class Worker:
    """One pocketsphinx decoder and the state that carries over between turns."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        # No second (flat-lexicon) pass: fewer errors on espeak-ng speech (52 % WER against
        # 62 %), and the final answer then stays closer to what was streamed.
        self.decoder = Decoder(
            samprate=RATE, loglevel="FATAL", fwdflat=False, maxhmmpf=MAX_HMM_PER_FRAME
        )
        self.lm = self.decoder.current_search()
        self.streams: OrderedDict[str, _Stream] = OrderedDict()
        self.live: str | None = None
        """The stream whose utterance the decoder has open."""
        self.noise = 0.0
        """The noise floor's level of the last turn decoded whole."""
        self.cmn: str | None = None
        """The cepstral mean of the last turn decoded whole: where a stream's estimate
        starts (the model's own default is far from any one voice: on espeak-ng sentences
        the partial words of a first turn were 92 % wrong from it)."""

    def _end_live(self) -> None:
        if self.live is not None:
            self.live = None
            self.decoder.end_utt()

    def close(self, stream_id: str) -> None:
        """Forget a stream."""
        if self.live == stream_id:
            self._end_live()
        self.streams.pop(stream_id, None)

    def step(self, stream_id: str, pcm: bytes, rate: int, out: BinaryIO) -> None:
        """Feed more of a turn being spoken; write the partial hypothesis to ``out``."""
        started = time.process_time()
        stream = self.streams.get(stream_id)
        if stream is None:
            stream = self.streams[stream_id] = _Stream(rate, self.noise)
            while len(self.streams) > MAX_STREAMS:
                self.close(next(iter(self.streams)))
        self.streams.move_to_end(stream_id)
        if len(stream.heard) < MAX_STREAM_S * RATE * 2:
            audio = stream.add(pcm)
            if self.live != stream_id:
                self._end_live()
                if self.cmn is not None:
                    self.decoder.set_cmn(self.cmn)
                self.decoder.start_utt()
                self.live, audio = stream_id, bytes(stream.audio)
            if audio:  # (the resampler may hold back all of a short chunk)
                self.decoder.process_raw(audio)
        words = [[w, start + length] for w, start, length, _ in _words(self.decoder)]
        _write(
            out,
            {
                "partial": words if self.live == stream_id else [],
                "heard_ms": len(stream.heard) * 1000 // (2 * RATE),
                "cpu_s": time.process_time() - started,
            },
        )

    def _resample(self, pcm: bytes, rate: int) -> bytes:
        if rate == RATE:
            return pcm
        import soxr

        samples = np.frombuffer(pcm, dtype="<i2")
        return bytes(soxr.resample(samples, rate, RATE).astype("<i2").tobytes())

    def decode(
        self,
        pcm: bytes,
        rate: int,
        keyphrases: list[str],
        out: BinaryIO,
        stream_id: str | None = None,
    ) -> None:
        """Decode one turn and write the answer to ``out`` (its stream, if any, ends)."""
        started = time.process_time()
        if stream_id is not None:
            self.close(stream_id)
        self._end_live()
        audio = self._resample(pcm, rate)
        self.noise = floor_noise(audio)
        audio = with_noise(audio, self.noise, 0)
        # The feature computation starts afresh (its noise and cepstral estimates carry over
        # between utterances): a turn comes out the same whatever was decoded before it.
        self.decoder.reinit_feat()
        spotted = self._spot(audio, keyphrases)
        d = self.decoder
        d.start_utt()
        d.process_raw(audio, full_utt=True)
        d.end_utt()
        self.cmn = d.get_cmn(False)
        words = _merge(_words(d), spotted)
        _write(
            out,
            {
                "final": " ".join(w[0] for w in words),
                "words": words,
                "cpu_s": time.process_time() - started,
            },
        )

    def _spot(self, audio: bytes, keyphrases: list[str]) -> list[Word]:
        """Keyphrases found in ``audio`` (keyword spotting), as (phrase, start, length, prob)."""
        d = self.decoder
        known = [p for p in keyphrases if all(d.lookup_word(w) for w in p.split())]
        if not known:
            return []
        lines = "".join(f"{p} /{KEYPHRASE_THRESHOLD}/\n" for p in known)
        with _kws_file(lines) as path:
            d.add_kws("_bias", path)
        d.activate_search("_bias")
        d.start_utt()
        d.process_raw(audio, full_utt=True)
        d.end_utt()
        found = _words(d)
        d.activate_search(self.lm)
        d.remove_search("_bias")
        return found


class _kws_file:
    """A temporary keyphrase file (pocketsphinx reads keyphrase lists from a file)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __enter__(self) -> str:
        import tempfile

        handle = tempfile.NamedTemporaryFile("w", suffix=".kws", delete=False)
        with handle:
            handle.write(self.text)
        self.path = handle.name
        return self.path

    def __exit__(self, *_exc: object) -> None:
        import os

        os.unlink(self.path)


def _merge(words: list[Word], spotted: list[Word]) -> list[Word]:
    """The language model's words with each spotted phrase put in place of the words it
    overlaps (unless they already say it)."""
    for phrase, start, length, prob in spotted:
        end = start + length
        overlap = [w for w in words if w[1] < end and w[1] + w[2] > start]
        said = " ".join(w[0] for w in overlap)
        if phrase in said:
            continue
        first = words.index(overlap[0]) if overlap else sum(1 for w in words if w[1] < start)
        rest = [w for w in words if w not in overlap]
        rest.insert(min(first, len(rest)), (phrase, start, length, prob))
        words = rest
    return words


def _write(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def main() -> int:
    """Serve requests on stdin until it closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        worker = Worker()
    except Exception as exc:  # noqa: BLE001 - any failure to load is reported, then we exit
        _write(stdout, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _write(stdout, {"ready": True})
    while True:
        line = stdin.readline()
        if not line:
            return 0
        request = json.loads(line)
        pcm = stdin.read(int(request["bytes"]))
        op, stream = request.get("op", "turn"), request.get("stream")
        try:
            if op == "step":
                worker.step(str(stream), pcm, int(request["rate"]), stdout)
            elif op == "close":
                worker.close(str(stream))
                _write(stdout, {})
            else:
                keyphrases = list(request.get("keyphrases") or [])
                worker.decode(pcm, int(request["rate"]), keyphrases, stdout, stream)
        except Exception as exc:  # noqa: BLE001 - a failed turn is reported, the next one runs
            _write(stdout, {"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(main())
