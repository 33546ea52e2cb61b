"""The one boundary where untrusted text becomes text that may be shown or written.

What the service, a tool, a web page or a file says reaches a terminal only through
:func:`displayable`: every character that can drive a terminal or hide text is replaced by
its visible escape, written as Python writes it (``\\x1b``, ``\\x9b``, ``\\u202e``), so
no control sequence the app did not make itself ever reaches a screen, a log file a user
``cat``\\ s, or the Markdown export. The exact wire text stays in ``events.jsonl`` (JSON
escapes it).

Replaced: C0 controls but newline and tab, DEL, C1 controls (U+0080-U+009F), and the bidi
overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder or hide what
follows. ``one_line`` also folds newlines and tabs into spaces, for a field of a single
line. The mapping is per character, so cleaning the pieces of a streamed text and joining
them gives the same as cleaning the whole, and cleaning twice changes nothing.

Pure, no imports of the client: every room may use it.
"""

from __future__ import annotations

import re

__all__ = ["CONTROLS", "UNSAFE", "displayable"]

CONTROLS = (
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
"""The code points that can drive a terminal or hide text (newline and tab included)."""
_KEPT = {ord("\n"), ord("\t")}

UNSAFE = re.compile("[" + "".join(f"\\u{c:04x}" for c in CONTROLS) + "]")
"""Any character :func:`displayable` replaces (newline and tab included)."""


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_MULTI_LINE = {code: _escape(code) for code in CONTROLS if code not in _KEPT}
_ONE_LINE = {**_MULTI_LINE, ord("\n"): " ", ord("\t"): " "}


def displayable(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as its escape (see the module)."""
    if UNSAFE.search(text) is None:
        return text
    return text.translate(_ONE_LINE if one_line else _MULTI_LINE)
