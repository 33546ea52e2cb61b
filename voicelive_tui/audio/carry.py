"""Carrying queued agent audio into a playback ring of another rate (a device switch).

A new output that cannot run at the old one's rate gets a new
:class:`~voicelive_tui.audio.ring.PlaybackRing` at its own rate. What the old ring still
had to play (what the old device held unheard is put back first:
``requeue_device_queue``) is resampled item by item into the new one, and each item's
played count goes on from where it was, so ``played_ms`` (what a barge-in truncates to)
and the "first sample played" report stay right across the switch. Runs on the loop
thread with no stream reading either ring.
"""

from __future__ import annotations

from .resample import resample
from .ring import PlaybackRing


def carry_over(old: PlaybackRing, new: PlaybackRing) -> int:
    """Move ``old``'s unplayed audio into ``new`` (resampled); the samples carried, at
    ``new``'s rate. What plays next starts at once: the jitter buffer is not waited for."""
    carried = 0
    for item_id, samples in old.queued_items():
        played = old.played_samples(item_id) * new.rate // old.rate
        new.carried(item_id, played, old.started(item_id))
        carried += new.write(item_id, resample(samples, old.rate, new.rate))
    if carried:
        new.release()
    return carried
