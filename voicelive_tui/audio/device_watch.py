"""What to do when the host's devices change: pure logic, fed one device list at a time.

The backend's watch (:mod:`.follower`) asks the host now and then what it has
(:class:`DeviceSnapshot`: each direction's device names and its default) and hands each
answer to :meth:`DeviceWatch.observe`, which says what changed that matters:

* ``follow`` -- the default changed and this direction follows the default (no device
  named), on a host whose streams stay on the device they opened (CoreAudio, WASAPI):
  open the new default;
* ``gone`` -- the device the user named (``--output-device``, or a PulseAudio sink or
  source chosen on the device screen) is no longer there: the default plays meanwhile;
* ``back`` -- it returned and ``--sticky-device`` is on: switch back to it;
* ``offer`` -- it returned: say so; the user switches back on the device screen (``d``).

No I/O, no clock: the unit tests feed lists of snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .choices import DeviceKind

Action = Literal["follow", "gone", "back", "offer"]
KINDS: tuple[DeviceKind, ...] = ("output", "input")


@dataclass(frozen=True)
class DeviceSnapshot:
    """The host's devices at one moment: names of each direction, and its default."""

    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    default_output: str = ""
    default_input: str = ""

    def names(self, kind: DeviceKind) -> tuple[str, ...]:
        return self.outputs if kind == "output" else self.inputs

    def default(self, kind: DeviceKind) -> str:
        return self.default_output if kind == "output" else self.default_input

    def has(self, kind: DeviceKind, wanted: str) -> bool:
        """Whether a device of ``kind`` is ``wanted``: an exact name, or (like
        ``--output-device``) a part of one, case-insensitive. A host that cuts names short
        (Windows' MME: 31 characters) still matches the start of a longer wanted name."""
        low = wanted.lower()
        for name in self.names(kind):
            have = name.lower()
            if low in have or (len(have) >= 31 and low.startswith(have)):
                return True
        return False


@dataclass(frozen=True)
class Decision:
    """One thing to do about one direction."""

    action: Action
    kind: DeviceKind
    name: str
    """``follow``: the new default; otherwise the device the user named."""
    default: str = ""
    """The host's default now (``gone``: what plays meanwhile)."""


class DeviceWatch:
    """Turns successive :class:`DeviceSnapshot` s into :class:`Decision` s.

    ``follow_default``: the host leaves our streams on the device they opened, so this
    watch must notice a new default (False where the host moves them itself: ALSA's
    ``pulse`` plugin). ``sticky``: a named device that returns is switched back to.
    """

    def __init__(self, *, follow_default: bool, sticky: bool) -> None:
        self.follow_default = follow_default
        self.sticky = sticky
        self.named: dict[DeviceKind, str] = {}
        self.missing: set[DeviceKind] = set()
        """Directions whose named device is gone (the default plays meanwhile)."""
        self.offered: dict[DeviceKind, str] = {}
        """Named devices that returned and were offered, not (yet) switched back to."""
        self._last: DeviceSnapshot | None = None

    @property
    def needed(self) -> bool:
        """Whether the host must be asked at all: a default to follow, a named device to
        keep an eye on."""
        return self.follow_default or bool(self.named)

    def name(self, kind: DeviceKind, wanted: str | None) -> None:
        """The user chose ``wanted`` for ``kind`` (None: the default, followed)."""
        self.missing.discard(kind)
        self.offered.pop(kind, None)
        if wanted:
            self.named[kind] = wanted
        else:
            self.named.pop(kind, None)

    def lost(self, kind: DeviceKind) -> None:
        """The backend found the named device gone (on a reopen) and uses the default."""
        if kind in self.named:
            self.missing.add(kind)
            self.offered.pop(kind, None)

    def switched_back(self, kind: DeviceKind) -> None:
        """The named device of ``kind`` is in use again (an offer taken)."""
        self.missing.discard(kind)
        self.offered.pop(kind, None)

    def observe(self, snapshot: DeviceSnapshot) -> list[Decision]:
        """What to do now that the host has ``snapshot``."""
        if not snapshot.outputs and not snapshot.inputs:
            return []  # the host answered with nothing: a server restarting, not an unplug
        last, self._last = self._last, snapshot
        decisions: list[Decision] = []
        for kind in KINDS:
            wanted = self.named.get(kind)
            default = snapshot.default(kind)
            if wanted is not None:
                decisions += self._named(kind, wanted, snapshot)
            elif (
                self.follow_default
                and last is not None
                and default
                and default != last.default(kind)
                and snapshot.has(kind, default)
            ):
                decisions.append(Decision("follow", kind, default, default))
        return decisions

    def _named(self, kind: DeviceKind, wanted: str, snapshot: DeviceSnapshot) -> list[Decision]:
        default = snapshot.default(kind)
        if not snapshot.names(kind):
            return []  # no device of that direction at all: nothing to say of one of them
        present = snapshot.has(kind, wanted)
        if not present:
            self.offered.pop(kind, None)
            if kind in self.missing:
                return []
            self.missing.add(kind)
            return [Decision("gone", kind, wanted, default)]
        if kind not in self.missing:
            return []
        self.missing.discard(kind)
        if self.sticky:
            return [Decision("back", kind, wanted, default)]
        self.offered[kind] = wanted
        return [Decision("offer", kind, wanted, default)]
