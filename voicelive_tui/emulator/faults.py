"""Fault injection switches for the emulator.

Each fault has a name used on the command line (``--fault NAME`` or ``--fault NAME=VALUE``)
and a field of :class:`Faults` used in-process. They exist so that clients can be tested
against the failures a real network and a real service produce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

__all__ = ["FAULT_HELP", "Faults", "parse_faults"]


@dataclass(frozen=True)
class Faults:
    """Which faults the emulator injects. The default injects none."""

    drop_after_events: int | None = None
    """Abort the socket (no close frame) after sending this many server events."""
    drop_mid_response: bool = False
    """Abort the socket right after the first audio/text delta of a response."""
    malformed_frame: bool = False
    """Send one frame that is not valid JSON right after ``session.created``."""
    unknown_events: bool = False
    """Send an event of an unknown type after ``session.created`` and before each response."""
    delay_ms: int = 0
    """Delay every server event by this many milliseconds (not scaled by speed)."""
    reject_auth: bool = False
    """Answer every WebSocket upgrade with HTTP 401, whatever the credentials."""
    flood_deltas_per_s: int | None = None
    """Stream reply audio as this many ``response.audio.delta`` events per second of audio."""
    long_reply_s: int | None = None
    """Speak every reply for at least this many seconds (its sentence repeated)."""
    junk_frames: int | None = None
    """Send this many frames that are not events (non-object JSON, invalid JSON, objects
    without a type) and unknown events, interleaved with the real events."""
    session_ttl_s: int | None = None
    """Say in ``session.created`` that the session expires after this many seconds (as
    ``expires_at``), and close the socket (1001) when it does."""
    token_limit: int | None = None
    """The token limit ``rate_limits.updated`` counts the conversation's spend against
    (default 50,000), so a low limit is reached in a few turns."""
    no_input_text: bool = False
    """Refuse ``input_text.delta``/``done`` as unknown event types (a service before API
    2026-07-15)."""

    @property
    def active(self) -> list[str]:
        """The CLI names of the faults that are switched on (for logs and banners)."""
        names = []
        for name, (field_name, _kind, _help) in _SPEC.items():
            value = getattr(self, field_name)
            if value not in (None, False, 0):
                names.append(name if isinstance(value, bool) else f"{name}={value}")
        return names


# CLI name -> (Faults field, value kind, help text). Kinds: "flag", "int".
_SPEC: dict[str, tuple[str, str, str]] = {
    "drop-after-events": (
        "drop_after_events",
        "int",
        "=N: abort the socket without a close frame after sending N server events",
    ),
    "drop-mid-response": (
        "drop_mid_response",
        "flag",
        ": abort the socket right after the first audio or text delta of a response",
    ),
    "malformed-frame": (
        "malformed_frame",
        "flag",
        ": send one frame that is not valid JSON right after session.created",
    ),
    "unknown-events": (
        "unknown_events",
        "flag",
        ": send an event of an unknown type after session.created and before each response",
    ),
    "delay-ms": (
        "delay_ms",
        "int",
        "=D: delay every server event by D milliseconds (not scaled by --speed)",
    ),
    "reject-auth": (
        "reject_auth",
        "flag",
        ": answer every connection with HTTP 401, whatever the credentials",
    ),
    "flood": (
        "flood_deltas_per_s",
        "int",
        "=N: stream reply audio as N response.audio.delta events per second of audio",
    ),
    "long-reply": (
        "long_reply_s",
        "int",
        "=S: speak every reply for at least S seconds, its sentence repeated (listening tests)",
    ),
    "junk-frames": (
        "junk_frames",
        "int",
        "=N: interleave N frames that are not events (and unknown events) with real ones",
    ),
    "session-ttl": (
        "session_ttl_s",
        "int",
        "=S: session.created says expires_at = now + S s; the socket closes (1001) then",
    ),
    "no-input-text": (
        "no_input_text",
        "flag",
        ": refuse input_text.delta/done as unknown events, as a service before API 2026-07-15",
    ),
    "rate-limit-tokens": (
        "token_limit",
        "int",
        "=N: rate_limits.updated counts the tokens spent against a limit of N (default 50000)",
    ),
}

FAULT_HELP: dict[str, str] = {name: f"{name}{text}" for name, (_f, _k, text) in _SPEC.items()}
"""CLI fault name -> one line of help, e.g. ``"delay-ms=D: delay every server event ..."``."""

assert {f.name for f in fields(Faults)} == {spec[0] for spec in _SPEC.values()}


def parse_faults(specs: Iterable[str], base: Faults | None = None) -> Faults:
    """Turn CLI fault specs such as ``["delay-ms=50", "reject-auth"]`` into :class:`Faults`.

    Raises ``ValueError`` with a one-line message on an unknown name or a bad value.
    """
    faults = base or Faults()
    for spec in specs:
        name, has_value, raw = spec.strip().partition("=")
        if name not in _SPEC:
            known = ", ".join(_SPEC)
            raise ValueError(f"unknown fault {name!r} (known faults: {known})")
        field_name, kind, _help = _SPEC[name]
        if kind == "flag":
            if has_value:
                raise ValueError(f"fault {name!r} takes no value")
            faults = replace(faults, **{field_name: True})
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"fault {name!r} needs an integer value, e.g. {name}=5") from None
        minimum = 0 if name == "delay-ms" else 1
        if value < minimum:
            raise ValueError(f"fault {name!r} needs a value of at least {minimum}")
        faults = replace(faults, **{field_name: value})  # type: ignore[arg-type]
    return faults
