"""``python -m voicelive_tui.emulator`` runs ``voicelive-emulator``."""

import sys

from .cli import main

sys.exit(main())
