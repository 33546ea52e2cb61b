"""What the dashboard shows, computed from the conversation state and the audio status.

Pure functions over plain values, no Textual: the status bar, the microphone label and
the voice activity state are derived here and tested without a screen. The widgets only
draw the frozen views these return, and repaint only when a view is not equal to the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from voicelive_tui.conversation.alarms import is_low
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.turns import ConnectionState, VadState
from voicelive_tui.protocol import shown


@dataclass(frozen=True)
class AudioStatus:
    """The audio backend as the dashboard sees it, read about 20 times a second."""

    has_input: bool = False
    playing: bool = False
    """Agent audio is queued or still sounding."""
    devices: str | None = None
    """Audio server and devices, when real devices are in use."""
    underruns: int = 0
    overflows: int = 0


@dataclass(frozen=True)
class StatusView:
    """Everything the status bar shows, already reduced to plain values."""

    connection: str = "connecting"  # connecting, ready, reconnecting, closed
    reconnect_in_s: float | None = None
    host: str = ""
    mode: str = ""
    session_id: str | None = None
    voice: str | None = None
    mic: str = "no audio"  # live, MUTED, no audio, scripted
    latency_ms: float | None = None
    rtt_ms: float | None = None
    rtt_unavailable: bool = False  # this platform's kernel does not offer it: "n/a"
    conversation_id: str | None = None  # agent mode: resume later with --conversation-id
    audio: str | None = None  # audio server and devices, when real devices are in use
    glitches: str | None = None  # "2 underruns" and the like, only when non-zero
    expires_in_s: int | None = None  # the service ends the session then (shown under 5 min)
    approvals: str | None = None  # "1 approval pending" while MCP calls wait for an answer
    limits: str | None = None  # "requests 3/100 left" when a rate limit runs low
    usage: str | None = None  # the session's tokens so far, "1.2k in / 340 out"
    echo: str | None = None  # the echo reference asked for ("client ref"), with real devices
    self_interruptions: str | None = None  # "2 self-interruptions" suspected, when any


VadLook = Literal["listening", "speaking", "thinking", "agent", "muted", "offline"]
"""How the voice activity line looks: its CSS class (``-listening``, ...)."""
VAD_LOOKS: tuple[VadLook, ...] = get_args(VadLook)


@dataclass(frozen=True)
class VadView:
    """The voice activity line: what it says and its state (the CSS class)."""

    label: str = "connecting"
    state: VadLook = "offline"


VAD_VIEWS = {
    VadState.IDLE: VadView("listening", "listening"),
    VadState.USER_SPEAKING: VadView("you are speaking", "speaking"),
    VadState.PROCESSING: VadView("thinking", "thinking"),
    VadState.AGENT_SPEAKING: VadView("agent speaking", "agent"),
}


def vad_view(conv: Conversation, audio: AudioStatus) -> VadView:
    """listening / you are speaking / thinking / agent speaking / muted, or the connection."""
    if conv.connection != ConnectionState.READY:
        return VadView(conv.connection.value, "offline")
    vad = conv.vad
    if vad == VadState.IDLE and audio.playing:
        vad = VadState.AGENT_SPEAKING  # the response is done, its audio still plays
    if conv.muted and vad in (VadState.IDLE, VadState.USER_SPEAKING):
        return VadView("muted", "muted")
    if conv.talking:
        return VadView("talking", "speaking")
    if conv.push_to_talk and vad == VadState.IDLE:
        return VadView("push to talk: ` to talk", "listening")
    return VAD_VIEWS[vad]


def mic_label(conv: Conversation, audio: AudioStatus, *, scripted: bool = False) -> str:
    """MUTED, scripted (the demo's scripted user), live or no audio."""
    if conv.muted:
        return "MUTED"
    if scripted:
        return "scripted"
    if conv.push_to_talk and audio.has_input:
        return "talking" if conv.talking else "closed (push to talk)"
    return "live" if audio.has_input else "no audio"


def glitch_label(audio: AudioStatus) -> str | None:
    """'3 underruns, 1 overflow' when the devices missed real time, else None."""
    parts = [
        f"{n} {name}{'' if n == 1 else 's'}"
        for n, name in ((audio.underruns, "underrun"), (audio.overflows, "overflow"))
        if n
    ]
    return ", ".join(parts) or None


EXPIRY_SHOWN_UNDER_S = 300.0


def expires_in_label(seconds: float | None) -> int | None:
    """Whole seconds left in the session, when under five minutes (else None)."""
    if seconds is None or seconds >= EXPIRY_SHOWN_UNDER_S:
        return None
    return max(0, int(seconds))


def reconnect_countdown(conv: Conversation, now: float) -> float | None:
    """Whole seconds until the next connection attempt while reconnecting, else None."""
    if conv.connection != ConnectionState.RECONNECTING or conv.reconnect_in_s is None:
        return None
    lost_at = next((t.started_at for t in reversed(conv.turns) if t.role == "system"), None)
    elapsed = now - lost_at if lost_at is not None else 0.0
    return round(max(0.0, conv.reconnect_in_s - elapsed))


def approvals_label(conv: Conversation) -> str | None:
    """How many MCP approval requests wait for an answer (None: none)."""
    waiting = len(conv.activity.pending_approvals())
    if not waiting:
        return None
    return f"{waiting} approval{'s' if waiting > 1 else ''} pending"


def limits_label(conv: Conversation) -> str | None:
    """The rate limits running low, e.g. ``requests 3/100 left`` (None: none is)."""
    low = [
        f"{name} {remaining}/{limit} left"
        for name, (remaining, limit) in conv.activity.rate_limits.items()
        if is_low(remaining, limit)
    ]
    return ", ".join(low) or None  # the names were made displayable as they came


def echo_label(conv: Conversation) -> str | None:
    """The echo reference the session asked for: ``client ref``, ``server ref`` or ``off``."""
    reference = conv.echo.reference
    if reference is None:
        return None
    return "off" if reference == "off" else f"{reference} ref"


def self_interruptions_label(conv: Conversation) -> str | None:
    """``1 self-interruption`` suspected (None: none)."""
    n = conv.echo.suspected
    if not n:
        return None
    return f"{n} self-interruption{'s' if n > 1 else ''}"


def token_count(n: int) -> str:
    """``950``, ``12.3k``, ``1.2M``: a token count in a few cells."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def usage_label(conv: Conversation) -> str | None:
    """The session's tokens so far (None before the first ``response.done``)."""
    if not conv.usage.responses:
        return None
    total = conv.usage.total
    label = f"{token_count(total.input_tokens)} in / {token_count(total.output_tokens)} out"
    cost = conv.cost()
    if cost is not None and cost.amount is not None:
        label += f" {cost.figure()} est."
    return label


def status_view(
    conv: Conversation,
    audio: AudioStatus,
    *,
    host: str,
    mode: str,
    now: float,
    wall_now: float | None = None,
    scripted: bool = False,
) -> StatusView:
    """The status bar's fields; ``mode`` is used unless the session names its agent.

    ``now`` is the session's monotonic clock; ``wall_now`` the Unix time, against which
    the service's ``expires_at`` is read (no expiry shown without it)."""
    return StatusView(
        connection=conv.connection.value,
        reconnect_in_s=reconnect_countdown(conv, now),
        host=host,
        mode=f"agent {conv.session.agent_name}" if conv.session.agent_name else mode,
        session_id=conv.session.id,
        voice=conv.session.voice,
        mic=mic_label(conv, audio, scripted=scripted),
        latency_ms=conv.last_voice_to_voice_ms,
        rtt_ms=conv.rtt_ms,
        rtt_unavailable=conv.rtt_unavailable,
        conversation_id=shown(conv.session.conversation_id),
        audio=audio.devices,
        glitches=glitch_label(audio),
        expires_in_s=None if wall_now is None else expires_in_label(conv.expires_in(wall_now)),
        approvals=approvals_label(conv),
        limits=limits_label(conv),
        usage=usage_label(conv),
        # Echo matters where a speaker can leak into a microphone: real devices.
        echo=echo_label(conv) if audio.devices else None,
        self_interruptions=self_interruptions_label(conv),
    )
