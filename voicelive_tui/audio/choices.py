"""The values of a device choice (the device screen's rows), shared by the backends.

No imports of the rest of the package: :mod:`voicelive_tui.audio.base` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

DeviceKind = Literal["input", "output"]


@dataclass(frozen=True)
class DeviceEntry:
    """One choice on the device screen."""

    kind: DeviceKind
    name: str
    where: str
    """The PortAudio host API, or "PulseAudio" for the server's own sinks and sources."""
    rate: int
    channels: int
    index: int
    """The PortAudio device to open."""
    pulse_name: str | None = None
    """The sink or source, reached through PortAudio device ``index``."""
    current: bool = False
    default: bool = False

    @property
    def key(self) -> str:
        """Unique among the entries (a table row's key)."""
        return f"{self.kind}:{self.index}:{self.pulse_name or ''}"


class InputLevels(Protocol):
    """Live levels of the inputs listed while the device screen is open."""

    def level(self, entry: DeviceEntry) -> float:
        """The entry's RMS level in dBFS (the floor when it is not metered)."""
        ...

    def close(self) -> None:
        """Stop metering."""
        ...
