"""Preferences kept between runs: a small JSON file in the user's configuration folder.

Only what a user picks once and expects to stay (the dashboard's theme) lives here; every
other setting comes from flags, the environment or the .env file each run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

APP_FOLDER = "voicelive-tui"
FILE_NAME = "preferences.json"


def preferences_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/voicelive-tui/preferences.json`` (``~/.config`` by default)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or "~") / ".config")
    return Path(base).expanduser() / APP_FOLDER / FILE_NAME


def load_preferences(path: Path) -> dict[str, str]:
    """The saved preferences; none when the file is missing or is not ours to read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("Ignoring the preferences file %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def save_preference(path: Path, name: str, value: str) -> None:
    """Keep ``name = value``, written whole then renamed (never half a file); OSError if not."""
    kept = load_preferences(path)
    if kept.get(name) == value:
        return
    kept[name] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, path)
