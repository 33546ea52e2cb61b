"""The three per-run log files of the seed quickstart, plus secret redaction.

* ``<stamp>_voicelive.log``: technical log, ``%(asctime)s:%(name)s:%(levelname)s:%(message)s``,
  INFO (or DEBUG with --verbose); never printed on the terminal.
* ``<stamp>_conversation.log``: SessionID/Model/Voice/Instructions header, then
  ``User Input:\\t...`` / ``Agent Audio Response:\\t...`` / ``Agent Text Response:\\t...``
  lines, each flushed as it is written.
* ``<stamp>_events.jsonl``: every event sent or received, base64 audio replaced by its
  decoded byte length; and ``"local"`` lines for what ``--replay`` needs that is not on
  the wire (:data:`PLAYBACK_STARTED`: the first sample of a reply left the speaker).
  Under a flood of streamed deltas (more than :data:`DELTAS_PER_S` in a second) the
  deltas are summed up instead, one ``"coalesced"`` line per type and second
  (:class:`DeltaRuns`), so that a server cannot fill the disk. Microphone appends (fifty
  a second) are written in runs: one ``"appends"`` line per run of blocks of one size
  (:class:`AppendRun`), which :func:`per_event` turns back into the lines of one append
  each that the log held before runs, time stamps included.

Every file is created new (``O_EXCL``, never through a symlink) with mode 0600 in a
folder created with mode 0700 (on Windows, which has no file modes, private through the
user's profile folder: see :func:`voicelive_tui.platform_support.log_privacy`), and every
line passes through :class:`Redactor`. Two runs
that start in the same second get different names (a ``-2``, ``-3``... suffix).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from voicelive_tui.platform_support import (
    O_BINARY,
    O_NOFOLLOW,
    log_privacy,
    make_private_dir,
    restrict_to_owner,
)
from voicelive_tui.protocol import APPEND, AUDIO_DELTA, audio_bytes, elide_audio
from voicelive_tui.safe_text import CONTROLS, displayable
from voicelive_tui.updates import Direction

PLAYBACK_STARTED = "playback.started"
"""A ``"local"`` events-log line: ``item_id``'s first sample left the speaker, at its time."""
LineDirection = Direction | Literal["local"]
"""An events-log line: an event sent or received, or a ``"local"`` fact of the client."""

TECH_FORMAT = "%(asctime)s:%(name)s:%(levelname)s:%(message)s"
STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"
REDACTED = "***"

_SECRET_PATTERNS = (
    # Query strings: agent-access-token=..., api-key=...
    re.compile(r"(?i)((?:agent-access-token|api-key|access_token|token)=)[^&\s'\"]+"),
    # Headers in dict reprs or HTTP dumps: 'api-key': '...', Authorization: Bearer ...
    re.compile(r"(?i)(['\"]?api-key['\"]?\s*[:=]\s*['\"]?)[^'\",\s}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)(['\"]?agent[-_]access[-_]token['\"]?\s*[:=]\s*['\"]?)[^'\",\s}&]+"),
)
# Long base64 runs inside logged JSON (the SDK logs whole frames at DEBUG).
_BASE64_FIELD = re.compile(r'("(?:delta|audio)"\s*:\s*")([A-Za-z0-9+/=]{64,})(")')


def redact_secrets(text: str) -> str:
    """Remove secret-shaped substrings (tokens in URLs and headers) from ``text``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class Redactor:
    """Removes known secrets and secret-shaped substrings from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret value (key, token) so it is never written anywhere."""
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = redact_secrets(text)
        return _BASE64_FIELD.sub(
            lambda m: f"{m.group(1)}<{len(m.group(2))} chars base64>{m.group(3)}", text
        )


class RedactingFormatter(logging.Formatter):
    """The seed's technical-log format, with secrets removed from the final text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(TECH_FORMAT)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        # A message may quote the service (an error, a close reason): `cat` of the log
        # must not replay its control sequences.
        return self._redactor(displayable(super().format(record)))


_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in CONTROLS}


def json_line(entry: Mapping[str, Any]) -> str:
    """``entry`` as one line of JSON that is safe to ``cat``: JSON escapes the C0 controls
    itself, and DEL, C1 and the bidi controls are escaped the same way (``\\u009b``), so
    the line parses back to the exact wire text."""
    # Outside strings a JSON dump holds none of these characters: escaping them is exact.
    return json.dumps(entry, default=str, ensure_ascii=False).translate(_JSON_ESCAPES)


MAX_NAME_TRIES = 100


def open_private(path: Path, *, create: bool = True) -> IO[str]:
    """A new text file with permissions 0600 (owner only), opened for appending.

    ``create`` makes a new file and fails with FileExistsError when anything, a symlink
    included, is already there; without it an existing regular file is reopened. A
    symlink is never followed.
    """
    flags = os.O_WRONLY | os.O_APPEND | O_NOFOLLOW | O_BINARY
    fd = os.open(path, flags | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    try:
        restrict_to_owner(fd)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def make_log_dir(log_dir: Path) -> None:
    """Create the log folder (mode 0700) if needed; OSError when it cannot be written."""
    if not log_dir.is_dir():
        make_private_dir(log_dir)
    if not os.access(log_dir, os.W_OK | os.X_OK):
        raise PermissionError(13, "Permission denied", str(log_dir))


class ConversationLog:
    """The seed's conversation log: header, then one tab-separated line per utterance."""

    def __init__(self, path: Path, file: IO[str], redactor: Redactor) -> None:
        self.path = path
        self._redactor = redactor
        self._file = file
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        """Append one line and flush it to the OS at once, so a crash loses nothing."""
        text = self._redactor(displayable(line))
        with self._lock:
            if self._file.closed:
                self._file = open_private(self.path, create=False)
            self._file.write(text + "\n")
            self._file.flush()

    def header(self, session_id: str, model: Any, voice: Any, instructions: Any) -> None:
        """The seed's session header (written once per session.updated)."""
        for line in (
            f"SessionID: {session_id}",
            f"Model: {model}",
            f"Voice: {voice}",
            f"Instructions: {instructions}",
            "",
        ):
            self.write(displayable(line, one_line=True))

    def close(self) -> None:
        with self._lock:
            self._file.close()


DELTAS_PER_S = 500
"""Received deltas a second written whole: a real reply streams tens a second (the
emulator's ``flood=500`` fault is at the limit); beyond it they are counted. At worst
(a flood at just this rate) the log grows by about 100 kB/s; a faster flood costs one
line per type and second."""


def log_time(at: float) -> str:
    """An events-log time stamp (local wall-clock time, milliseconds)."""
    return datetime.fromtimestamp(at).isoformat(timespec="milliseconds")


@dataclass
class DeltaRun:
    """Deltas of one type counted instead of written: how many, their size, when."""

    type: str
    first: float
    last: float
    count: int = 0
    bytes: int = 0

    def entry(self) -> dict[str, Any]:
        """The run's events-log line."""
        return {
            "time": log_time(self.first),
            "direction": "received",
            "coalesced": {
                "type": self.type,
                "count": self.count,
                "bytes": self.bytes,
                "first": log_time(self.first),
                "last": log_time(self.last),
            },
        }


class DeltaRuns:
    """Which received deltas the events log writes whole, and the runs of the others.

    A second with more than ``per_second`` deltas starts a flood; while it lasts (until
    a second with fewer, or a quiet second) every delta joins its type's run. A run
    covers at most one second: it is written once its second is over, or before any
    other line. ``bytes`` is the PCM of audio deltas and the UTF-8 text of the others.
    """

    def __init__(self, per_second: int = DELTAS_PER_S) -> None:
        self.per_second = per_second
        self._second = -1
        self._seen = 0  # deltas in the current second
        self._flooding = False
        self._runs: dict[str, DeltaRun] = {}
        self._done: list[DeltaRun] = []  # runs of seconds that are over

    def take(self, event: Mapping[str, Any], at: float) -> bool:
        """True when ``event`` joined a run (it is not to be written)."""
        kind = event.get("type")
        if not isinstance(kind, str) or not kind.endswith(".delta"):
            return False
        second = int(at)
        if second != self._second:
            if second > self._second + 1 or self._seen <= self.per_second:
                self._flooding = False
            self._second, self._seen = second, 0
            self._done += self._runs.values()
            self._runs = {}
        self._seen += 1
        if self._seen > self.per_second:
            self._flooding = True
        if not self._flooding:
            return False
        run = self._runs.get(kind)
        if run is None:
            run = self._runs[kind] = DeltaRun(kind, at, at)
        run.last = at
        run.count += 1
        if kind == AUDIO_DELTA:
            run.bytes += audio_bytes(event)
        else:
            delta = event.get("delta")
            run.bytes += len(delta.encode("utf-8", "replace")) if isinstance(delta, str) else 0
        return True

    def done(self) -> list[DeltaRun]:
        """The runs whose second is over (taken: write them now)."""
        runs, self._done = self._done, []
        return runs

    def all(self) -> list[DeltaRun]:
        """Every run not written yet, in order (taken: write them before another line)."""
        runs = [*self._done, *self._runs.values()]
        self._done, self._runs = [], {}
        return runs


APPEND_RUN_S = 1.0
"""The longest a run of microphone appends waits for its line: the line is written once
its first append is this old when another comes, before any other line, and at flush and
close, so a process killed outright loses at most this much of the appends' lines (and,
once appends stop without another event, the run since its first append)."""
APPENDS = "appends"
"""The key of a run's events-log line (where an event's line has ``"event"``)."""
_MS = timedelta(milliseconds=1)


def _to_ms(at: datetime) -> datetime:
    """``at`` cut to the millisecond, as :func:`log_time` writes it."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class AppendRun:
    """Microphone appends of one block size in a row, waiting to be written as one line:
    their times are kept (one list append a block) and turned into text once a run."""

    __slots__ = ("block", "times")

    def __init__(self, block: int, at: float) -> None:
        self.block = block
        self.times = [at]

    def line(self) -> str:
        """The run's events-log line: the count, the bytes (in all and a block), the
        first and last time, and each append's time as milliseconds after the first
        (from the very stamps :func:`log_time` would write, so nothing is rounded twice)."""
        stamps = [_to_ms(datetime.fromtimestamp(at)) for at in self.times]
        first = stamps[0]
        run = {
            "type": APPEND,
            "count": len(stamps),
            "bytes": self.block * len(stamps),
            "block": self.block,
            "first": first.isoformat(timespec="milliseconds"),
            "last": stamps[-1].isoformat(timespec="milliseconds"),
            "at_ms": [(stamp - first) // _MS for stamp in stamps],
        }
        entry = {"time": run["first"], "direction": "sent", APPENDS: run}
        return json.dumps(entry) + "\n"


def per_event(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An events-log line as lines of one event each: a run of microphone appends becomes
    the line of each append, as written before runs (same time stamp, same event); any
    other line is itself. Readers of the log (``--replay``, tests, benchmarks) read
    through this, so logs written before and after runs read the same."""
    run = entry.get(APPENDS)
    if not isinstance(run, Mapping):
        return [entry]
    first = datetime.fromisoformat(run["first"])
    event = {"audio": f"<{int(run['block'])} bytes>", "type": APPEND}
    return [
        {
            "time": (first + ms * _MS).isoformat(timespec="milliseconds"),
            "direction": "sent",
            "event": dict(event),
        }
        for ms in run["at_ms"]
    ]


class EventsJsonl:
    """One JSON object per event sent or received, audio elided, secrets redacted."""

    def __init__(self, path: Path, file: IO[str], redactor: Redactor) -> None:
        self.path = path
        self._redactor = redactor
        self._file = file
        self._lock = threading.Lock()
        self._runs = DeltaRuns()
        self._appends: AppendRun | None = None

    def record(
        self, direction: LineDirection, event: Mapping[str, Any], at: float | None = None
    ) -> None:
        """Write ``event`` with the way it went and its wall-clock time."""
        at = at if at is not None else time.time()
        with self._lock:
            if direction == "received" and self._runs.take(event, at):
                if runs := self._runs.done():
                    self._write("", runs)
                return
            runs = self._runs.all()
        entry = {"time": log_time(at), "direction": direction, "event": elide_audio(event)}
        text = self._redactor(json_line(entry))
        with self._lock:
            self._write(text + "\n", runs)

    def record_append(self, pcm_bytes: int, at: float | None = None) -> None:
        """A microphone block sent as ``input_audio_buffer.append``: it joins the run of
        appends (see :class:`AppendRun`, :data:`APPEND_RUN_S`). The run's line is made of
        times, sizes and constants alone (the audio is never in it), so it skips the
        redactor and :func:`json_line`'s escapes: there is nothing in it to redact or
        escape."""
        at = at if at is not None else time.time()
        with self._lock:
            run = self._appends
            if run is None or run.block != pcm_bytes:
                self._write("", [])
                self._appends = AppendRun(pcm_bytes, at)
                return
            run.times.append(at)
            if at - run.times[0] >= APPEND_RUN_S:
                self._write("", [])

    def _write(self, text: str, runs: list[DeltaRun]) -> None:
        """Under the lock: what waits (the appends' run, then a flood's runs: counts and
        times only, nothing to redact), then ``text``."""
        parts = []
        if self._appends is not None:
            parts.append(self._appends.line())
            self._appends = None
        parts += [json.dumps(r.entry()) + "\n" for r in runs]
        parts.append(text)
        if not self._file.closed and (out := "".join(parts)):
            self._file.write(out)

    def record_skipped(self, raw: bytes, problem: str, at: float | None = None) -> None:
        """A received frame that is not an event: why, its size and its first 200 bytes."""
        entry = {
            "time": log_time(at if at is not None else time.time()),
            "direction": "received",
            "skipped": problem,
            "bytes": len(raw),
            "frame": raw[:200].decode("utf-8", "replace"),
        }
        text = self._redactor(json_line(entry))
        with self._lock:
            self._write(text + "\n", self._runs.all())

    def flush(self) -> None:
        """Write the runs so far (appends, a flood's), and push everything to the OS."""
        with self._lock:
            self._write("", self._runs.all())
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._write("", self._runs.all())
            self._file.close()


RUN_FILES = ("voicelive.log", "conversation.log", "events.jsonl")


def _create_run_files(log_dir: Path, stamp: str) -> tuple[str, list[tuple[Path, IO[str]]]]:
    """Create the run's three files under a stamp no other run uses (suffix on collision)."""
    for n in range(1, MAX_NAME_TRIES + 1):
        candidate = stamp if n == 1 else f"{stamp}-{n}"
        opened: list[tuple[Path, IO[str]]] = []
        try:
            for name in RUN_FILES:
                path = log_dir / f"{candidate}_{name}"
                opened.append((path, open_private(path)))
        except FileExistsError:
            for path, file in opened:  # ours, just created and empty: give the name back
                file.close()
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        return candidate, opened
    raise FileExistsError(17, "No free log file name", str(log_dir / f"{stamp}_*"))


class RunLogs:
    """The log files of one run, and the technical log's handler on the root logger."""

    def __init__(
        self,
        log_dir: Path,
        *,
        verbose: bool = False,
        secrets: Iterable[str | None] = (),
        stamp: str | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        make_log_dir(self.log_dir)
        self.stamp, opened = _create_run_files(
            self.log_dir, stamp or datetime.now().strftime(STAMP_FORMAT)
        )
        self.redactor = Redactor(s for s in secrets if s)
        (self.technical_path, technical), conversation, events = opened
        self.conversation = ConversationLog(*conversation, self.redactor)
        self.events = EventsJsonl(*events, self.redactor)
        self._handler = logging.StreamHandler(technical)
        self._handler.setFormatter(RedactingFormatter(self.redactor))
        self._level = logging.DEBUG if verbose else logging.INFO
        self._handler.setLevel(self._level)
        root = logging.getLogger()
        self._old_root_level = root.level
        root.addHandler(self._handler)
        root.setLevel(self._level)
        # aiohttp's access log of the embedded emulator is noise in the client's log.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        note = log_privacy(self.log_dir)[1]
        if note:
            logging.getLogger(__name__).info("Log files: %s", note)

    @property
    def conversation_path(self) -> Path:
        return self.conversation.path

    @property
    def events_path(self) -> Path:
        return self.events.path

    def add_secret(self, secret: str | None) -> None:
        """Redact this value (e.g. a freshly fetched token) from now on."""
        self.redactor.add(secret)

    def flush(self) -> None:
        """Push everything written so far to the OS."""
        self._handler.flush()
        self.events.flush()

    def close(self) -> None:
        """Flush and close every file and detach the technical log handler."""
        self.flush()
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._old_root_level)
        self._handler.close()
        stream = self._handler.stream
        if stream and not stream.closed:
            stream.close()
        self.conversation.close()
        self.events.close()
        for path in (self.conversation_path, self.events_path):
            # A run that never got a session (auth rejected, nothing listening) leaves
            # no empty files behind; the technical log says what happened.
            with contextlib.suppress(OSError):
                if path.stat().st_size == 0:
                    path.unlink()

    def __enter__(self) -> RunLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
