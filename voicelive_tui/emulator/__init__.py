"""A local Voice Live emulator: a protocol-faithful server the real SDK talks to.

Start it in-process with :func:`run_emulator` or from a shell with ``voicelive-emulator``.
"""

from .faults import FAULT_HELP, Faults, parse_faults
from .server import Emulator, run_emulator
from .state import ConnectionRecord, StoredConversation, StoredItem

__all__ = [
    "FAULT_HELP",
    "ConnectionRecord",
    "StoredConversation",
    "Emulator",
    "Faults",
    "StoredItem",
    "parse_faults",
    "run_emulator",
]
