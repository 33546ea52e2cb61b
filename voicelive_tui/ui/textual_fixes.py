"""Workarounds for Textual, applied once when ``voicelive_tui.ui`` is imported: a memory leak
and a repaint cost.

Textual (8.2.8, the newest release) caches ``StylesCache.get_inner_outer`` with
``functools.lru_cache`` on the instance method, so the cache's keys hold the
``StylesCache`` itself: up to 1,024 of them stay alive after their widgets are removed,
each with every line it last rendered (its ``Strip`` objects and their own caches). The
dashboard removes a widget per turn that leaves the conversation panel, so typed turns
grew the RSS by about 0.3 MiB a minute until the cache was full (about half an hour in,
~11 MiB). Upstream:
https://github.com/Textualize/textual/issues/6665.

The fix keeps Textual's own function and its cache size, keyed by the two colours only
(which is all it reads). A Textual that no longer wraps the method in ``lru_cache`` is
left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

import textual
from textual._compositor import ChopsUpdate, Compositor
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style

InnerOuter = tuple[Style, Style]

INNER_OUTER_CACHE = 1024
"""Textual's own size for the cache."""


def release_removed_widgets() -> bool:
    """Stop ``StylesCache.get_inner_outer``'s cache from keeping removed widgets' caches;
    True when it was needed (and is now done), False when this Textual does not need it."""
    cached = StylesCache.__dict__.get("get_inner_outer")
    compute: Callable[[type[StylesCache], Color, Color], InnerOuter] | None = getattr(
        cached, "__wrapped__", None
    )
    if compute is None or not hasattr(cached, "cache_clear"):
        return False  # fixed upstream, or already replaced here

    @lru_cache(INNER_OUTER_CACHE)
    def by_colours(base_background: Color, background: Color) -> InnerOuter:
        return compute(StylesCache, base_background, background)

    def get_inner_outer(self: StylesCache, base_background: Color, background: Color) -> InnerOuter:
        return by_colours(base_background, background)

    get_inner_outer.__doc__ = compute.__doc__
    cached.cache_clear()  # type: ignore[union-attr]  # whatever it holds already
    StylesCache.get_inner_outer = get_inner_outer  # type: ignore[method-assign, assignment]
    return True


RENDERS_CHECKED = ("8.2.8",)
"""Textual releases whose ``Compositor._get_renders`` and ``render_partial_update``
:func:`render_only_what_changed` was checked against (it replaces private methods: a new
release is checked again)."""


def render_only_what_changed() -> bool:
    """A partial screen update renders only the lines it can show; True when applied.

    Each frame, Textual's compositor renders the region around what changed (the union of
    the dirty regions) and asks every widget whose *clip* meets that region for all of its
    lines. A widget's clip is its container's visible area, so a meter repainting in the
    levels panel had the status bar, the key bar, the conversation and the event panel
    render every line too, and the screen and the panels' containers all 46 of theirs
    (from cache, but line by line: about 0.1 ms a widget, 20 frames a second); and a new
    event line with a meter's cell in the same frame made the union the whole box between
    them, every panel in it for all its rows.

    Here, for each changed region, a widget is asked only for the rows where its visible
    part meets that region, and not at all where a widget in front of it covers all it
    would show of the region (a container behind its child: Textual paints front to back
    and the front widget's cells win). What reaches the terminal is the same: a partial
    update writes only the changed spans of each row, and each of their cells comes from
    the front-most widget there, which is asked. The screen itself (at the back, its lines
    cached) is asked for every changed row, so a row's piece just past a span, of which
    Textual writes only a cursor move, is there as in Textual. (Rows only: a chop of a line
    starts at a widget's edge, so columns are rendered whole, as Textual does.)
    """
    if textual.__version__ not in RENDERS_CHECKED or getattr(
        Compositor._get_renders, "_voicelive_tui", False
    ):
        return False
    partial_update = Compositor.render_partial_update

    def render_partial_update(self: Compositor) -> ChopsUpdate | None:
        self._voicelive_changed = list(self._dirty_regions)  # type: ignore[attr-defined]
        try:
            return partial_update(self)
        finally:
            self._voicelive_changed = None  # type: ignore[attr-defined]

    def _get_renders(
        self: Compositor, crop: Region | None = None
    ) -> Iterator[tuple[Region, Region, list[Strip]]]:
        changed: list[Region] | None = getattr(self, "_voicelive_changed", None)
        if crop is None or not changed:
            yield from _renders_in(self, crop)
            return
        changed = [region for region in (r.intersection(crop) for r in changed) if region]
        in_front: list[list[Region]] = [[] for _ in changed]  # what covers each so far
        root = self.root
        for widget, (region, clip) in list(self.visible_widgets.items()):
            shown = region.intersection(clip)
            if not shown:
                continue
            rows: list[tuple[int, int]] = []
            for index, dirty in enumerate(changed):
                part = shown.intersection(dirty)
                if not part:
                    continue
                covers = in_front[index]
                if widget is root or not any(front.contains_region(part) for front in covers):
                    rows.append((part.y, part.bottom))
                covers.append(shown)
            for top, bottom in _merged(rows):
                part = Region(shown.x, top, shown.width, bottom - top)
                lines = widget.render_lines(
                    Region(part.x - region.x, top - region.y, part.width, part.height)
                )
                yield region, part, lines

    render_partial_update.__doc__ = partial_update.__doc__
    render_partial_update.__wrapped__ = partial_update  # type: ignore[attr-defined]
    _get_renders.__doc__ = Compositor._get_renders.__doc__
    _get_renders.__wrapped__ = Compositor._get_renders  # type: ignore[attr-defined]
    _get_renders._voicelive_tui = True  # type: ignore[attr-defined]
    Compositor._get_renders = _get_renders  # type: ignore[method-assign]
    Compositor.render_partial_update = render_partial_update  # type: ignore[method-assign]
    return True


def _renders_in(
    compositor: Compositor, crop: Region | None
) -> Iterator[tuple[Region, Region, list[Strip]]]:
    """Every widget whose visible part meets ``crop``, for the rows of ``crop`` (all of
    them without one)."""
    for widget, (region, clip) in list(compositor.visible_widgets.items()):
        if crop is not None:
            clip = clip.intersection(Region(region.x, crop.y, region.width, crop.height))
        shown = region.intersection(clip)
        if not shown or (crop is not None and not crop.overlaps(shown)):
            continue
        x, y, width, height = shown
        lines = widget.render_lines(Region(x - region.x, y - region.y, width, height))
        yield region, clip, lines


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open row ranges, overlapping or touching ones joined, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
