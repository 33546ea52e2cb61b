"""A local Voice Live emulator: a protocol-faithful server the real SDK talks to.

Start it in-process with :func:`run_emulator` or from a shell with ``voicelive-emulator``.

What the emulated agent does with tools (``tools.py`` has the details):

- function tools: a typed message naming a tool calls it (``tool_choice`` ``"required"`` or
  a function selection also call on spoken turns); the reply is the ``function_call`` items
  only, and the agent answers quoting the client's ``function_call_output`` after its
  ``response.create``;
- MCP servers: tool discovery (``mcp_list_tools.*``) after each ``session.update`` carrying
  them, from a built-in catalogue per ``server_label`` (a ``server_url`` host ending in
  ``.invalid`` fails); a typed message naming a listed tool calls it, with an
  ``mcp_approval_request`` first unless ``require_approval`` says ``never``;
- agent mode: a typed message with "search" in it runs a web (or, with "file", a file)
  search and answers with a citation (``response.audio_transcript.annotation.added``);
- ``output_audio_timestamp_types: ["word"]`` with an Azure voice: one
  ``response.audio_timestamp.delta`` per spoken word, aligned with the streamed audio;
- every response starts with ``rate_limits.updated``; settings that cannot be honoured get a
  ``warning``; a configured input transcription streams its deltas.
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
