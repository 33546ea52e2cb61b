"""Failures the user can act on, each carrying the exit status the command returns.

``cli.py`` turns any :class:`VoiceLiveError` into one line on stderr and its
``exit_code``; the dashboard hands the same exception back to it once the terminal is
restored.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_CONNECT = 4
EXIT_AUDIO = 5


class VoiceLiveError(Exception):
    """A failure with a one-line message for the user and an exit status."""

    exit_code = 1
