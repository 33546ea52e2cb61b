"""Command palette (Ctrl+P): the key actions, plus the voice, VAD, noise reduction and echo
reference values, live, and the echo check.

Typing "voice NAME", "threshold 0.6", "silence 700" or "prefix 200" offers exactly that
value; otherwise a few common choices are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from voicelive_tui.session import NOISE_REDUCTIONS, SessionOverrides
from voicelive_tui.ui.messages import SettingsChangeRequested

VOICES = (
    "en-US-Ava:DragonHDLatestNeural",
    "en-US-Andrew:DragonHDLatestNeural",
    "en-US-AvaMultilingualNeural",
    "en-GB-SoniaNeural",
    "alloy",
    "echo",
    "shimmer",
)
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
SILENCES_MS = (300, 500, 800, 1200)
PREFIXES_MS = (100, 300, 500)


def binding_actions(bindings: Iterable[Binding | tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """(name, action, help) once per action of the app's key bindings, in their order:
    the palette offers exactly what the keys do, under the same words."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        if binding.action in seen:
            continue
        seen.add(binding.action)
        out.append((binding.description, binding.action, binding.tooltip or ""))
    return out


def typed_setting(query: str) -> tuple[str, dict[str, Any]] | None:
    """'voice alloy' -> ('Set voice to alloy', {'voice': 'alloy'}); None if not a setting."""
    word, _, rest = query.strip().partition(" ")
    rest = rest.strip()
    if not rest:
        return None
    word = word.lower()
    try:
        if word == "voice":
            return f"Set voice to {rest}", {"voice": rest}
        if word == "threshold" and 0.0 <= float(rest) <= 1.0:
            return f"Set VAD threshold to {float(rest):g}", {"threshold": float(rest)}
        if word == "silence" and 50 <= int(rest) <= 10_000:
            return f"Set VAD silence to {int(rest)} ms", {"silence_ms": int(rest)}
        if word == "prefix" and 0 <= int(rest) <= 5_000:
            return f"Set VAD prefix padding to {int(rest)} ms", {"prefix_ms": int(rest)}
    except ValueError:
        return None
    return None


RENEWS = "a new session (the input's channels change); the conversation is kept"


def setting_choices() -> list[tuple[str, dict[str, Any], str]]:
    """(name, the change, help) for every value the palette offers without typing."""
    update = "session.update"
    return [
        *(
            (f"Set echo reference to {r}", {"echo_reference": r}, RENEWS)
            for r in ("client", "server")
        ),
        *(
            (f"Set noise reduction to {k}", {"noise_reduction": k}, update)
            for k in NOISE_REDUCTIONS
        ),
        *((f"Set voice to {v}", {"voice": v}, update) for v in VOICES),
        *((f"Set VAD threshold to {x:g}", {"threshold": x}, update) for x in THRESHOLDS),
        *((f"Set VAD silence to {ms} ms", {"silence_ms": ms}, update) for ms in SILENCES_MS),
        *((f"Set VAD prefix padding to {ms} ms", {"prefix_ms": ms}, update) for ms in PREFIXES_MS),
    ]


class VoiceLiveCommands(Provider):
    """Actions and live session settings; the app hears of a setting by a message."""

    def _actions(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.app
        return [
            (name, partial(app.run_action, action), help)
            for name, action, help in binding_actions(app.BINDINGS)
        ]

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        out = self._actions()
        for enabled in (True, False):
            out.append(
                (
                    f"Push to talk {'on' if enabled else 'off (server VAD)'}",
                    partial(self._push_to_talk, enabled),
                    "session.update: turn_detection",
                )
            )
        out.append(
            (
                "Echo check",
                partial(self.app.run_action, "echo_check"),
                "play a probe: does the microphone hear the speaker, how late, how loud",
            )
        )
        out += [
            (name, partial(self._change, **changes), help)
            for name, changes, help in setting_choices()
        ]
        return out

    def _push_to_talk(self, enabled: bool) -> None:
        session = getattr(self.app, "session", None)
        if session is not None:
            turns = session.turn_taking.changed(push_to_talk=enabled)
            self.app.post_message(SettingsChangeRequested(SessionOverrides(turns=turns)))

    def _change(self, **changes: Any) -> None:
        self.app.post_message(SettingsChangeRequested(SessionOverrides(**changes)))

    async def discover(self) -> Hits:
        for name, callback, help in self._actions():
            yield DiscoveryHit(name, callback, help=help)

    async def search(self, query: str) -> Hits:
        typed = typed_setting(query)
        exact = None
        if typed is not None:
            exact, changes = typed
            yield Hit(100.0, exact, partial(self._change, **changes), help="session.update")
        matcher = self.matcher(query)
        for name, callback, help in self._commands():
            if name == exact:
                continue  # offered above already
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help)
