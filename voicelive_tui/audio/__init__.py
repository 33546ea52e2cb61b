"""Audio for voicelive-tui: the backend interface, devices, WAV files and no audio."""

from .backends import NullBackend, WavBackend
from .base import AudioBackend, AudioError, AudioListener
from .factory import make_backend, start_backend

__all__ = [
    "AudioBackend",
    "AudioError",
    "AudioListener",
    "NullBackend",
    "WavBackend",
    "make_backend",
    "start_backend",
]
