"""voicelive-tui: a terminal dashboard for Azure AI Voice Live voice agents."""

__version__ = "0.1.0"
