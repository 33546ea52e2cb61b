"""Configuration: the options table, ``Settings``, their resolution (flags > environment >
``.env``) and the ``--tools`` file. Nothing else in the package reads ``os.environ``."""

from voicelive_tui.config.resolve import ConfigError, build_parser, settings_from_args
from voicelive_tui.config.settings import Settings

__all__ = ["ConfigError", "Settings", "build_parser", "settings_from_args"]
