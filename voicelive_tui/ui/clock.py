"""How the dashboard labels monotonic time stamps: wall-clock time (tests pass a fixed one)."""

from __future__ import annotations

import time
from datetime import datetime, tzinfo


class WallClock:
    """Maps the session's ``time.monotonic()`` stamps to wall-clock labels.

    ``offset`` is added to a monotonic stamp to get a Unix time; by default it is measured
    once, now. Tests and screenshots pass a fixed offset and UTC so labels never change.
    """

    def __init__(self, offset: float | None = None, tz: tzinfo | None = None) -> None:
        self.offset = time.time() - time.monotonic() if offset is None else offset
        self.tz = tz

    def label(self, at: float, precise: bool = False) -> str:
        """``HH:MM:SS`` (``HH:MM:SS.mmm`` when ``precise``) of monotonic time ``at``."""
        moment = datetime.fromtimestamp(at + self.offset, self.tz)
        if precise:
            return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return moment.strftime("%H:%M:%S")
