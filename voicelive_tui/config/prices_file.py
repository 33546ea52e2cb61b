"""Reading price tables: the one shipped in the package, or ``--prices FILE``."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from voicelive_tui.prices import PriceTable, parse_prices

__all__ = ["load_prices", "shipped_prices"]


def shipped_prices() -> PriceTable:
    """The table shipped with the package (``prices.json``)."""
    text = resources.files("voicelive_tui").joinpath("prices.json").read_text(encoding="utf-8")
    return parse_prices(json.loads(text))


def load_prices(path: Path) -> PriceTable:
    """``--prices FILE``; ValueError with one line when it cannot be read or is not a table."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    try:
        return parse_prices(raw, shipped_prices().models)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
