"""The Voice Live session: the connection worker and what it says over the socket
(dialogue, handshake, upkeep, reconnect, barge-in, auth, the service
configuration it asks for, tool calls and the conversation log). No front end here."""

# The session's face: what the front ends (console, dashboard, replay, demo) may use. Only
# ``runner`` (the wiring that assembles a session) reaches further, for the credential.
from voicelive_tui.session.frames import MALFORMED
from voicelive_tui.session.service_config import NOISE_REDUCTIONS, SessionOverrides
from voicelive_tui.session.session import VoiceLiveSession

__all__ = ["MALFORMED", "NOISE_REDUCTIONS", "SessionOverrides", "VoiceLiveSession"]
