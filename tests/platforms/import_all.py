"""Import every module of voicelive_tui (run under ``simulate.py TARGET``, with TARGET as
its argument): one that reaches for a name the platform lacks at import time fails here,
with its traceback.

One module is POSIX only by nature: ``ui/driver.py`` subclasses Textual's LinuxDriver
(termios); the app imports it only when Textual picked that driver (``get_driver_class``),
never on Windows, whose console Textual drives with its WindowsDriver. On win32 it must
fail to import (proving the simulation's termios is gone) and nothing else may import it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import voicelive_tui

POSIX_TERMINAL_ONLY = "voicelive_tui.ui.driver"


def main(target: str) -> None:
    names = [
        info.name
        for info in pkgutil.walk_packages(voicelive_tui.__path__, "voicelive_tui.")
        if not info.name.endswith("__main__")  # running them starts the app
    ]
    for name in names:
        if target == "win32" and name == POSIX_TERMINAL_ONLY:
            continue
        importlib.import_module(name)
    if target == "win32":
        assert POSIX_TERMINAL_ONLY not in sys.modules, "imported by another module"
        try:
            importlib.import_module(POSIX_TERMINAL_ONLY)
        except ImportError:
            pass
        else:
            raise AssertionError(f"{POSIX_TERMINAL_ONLY} imported without termios")
    print(f"imported {len(names) + 1} modules")


if __name__ == "__main__":
    main(sys.argv[1])
