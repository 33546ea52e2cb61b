"""python -m voicelive_tui"""

from voicelive_tui.cli import entry

entry()
