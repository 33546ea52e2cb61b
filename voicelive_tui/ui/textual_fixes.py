"""A workaround for a memory leak in Textual, applied once when ``voicelive_tui.ui`` is imported.

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

from collections.abc import Callable
from functools import lru_cache

from textual._styles_cache import StylesCache
from textual.color import Color
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
