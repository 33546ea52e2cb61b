"""Function, MCP and search calls of the emulated agent: session checks, the built-in MCP
catalogue, and what a turn asks for.

Plain data and pure functions; ``activity.py`` streams the events. Triggers (also in the
README's emulator section):

- a typed message that contains a function tool's name calls it (all the tools it names
  with ``parallel_tool_calls`` on, the default; the first one with it off); so does a
  spoken turn whose transcript names the tool's purpose: all the words of its name but
  generic verbs (``get_current_time``: "current time"), or the last of them ("time"),
  singular or plural (the recogniser listens for those words: ``recognition.py``); a
  spoken turn that names no tool calls the one (function or MCP) it describes: the most
  of the words of its name and description, at least two, a word of its name that no
  other tool's name has counting twice ("ask ... the repository" calls ``ask_question``,
  "Ask any question about a GitHub repository.");
  ``tool_choice: "required"`` calls the first tool when none is named, and a function
  selection (``{"type": "function", "name": ...}`` or the bare name) calls that tool on
  every turn, spoken turns included; ``"none"`` calls nothing;
- arguments: ``key=value`` (or ``key="two words"``) pairs in the message for the tool's
  parameters; a tool with one required string parameter gets the rest of the message
  after its name (without a leading "for", "in", "about", "on" or "of" and a trailing
  "please"); the others are taken from the request's words where they can be found
  (``arguments.py``: "What is the weather in Lisbon?" gives ``city="Lisbon"``); required
  parameters still missing get a placeholder of their type;
- a typed message that names a tool an MCP server lists (see ``catalogue.py``)
  calls it (``tool_choice: "required"`` without function tools: the first listed tool, on
  every turn); ``require_approval`` decides whether an approval request comes first;
- in agent mode, a typed message with "search" in it searches the web ("file" in it too:
  the agent's files), then answers with a citation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .arguments import from_words
from .catalogue import GENERIC_MCP_TOOLS, MCP_CATALOGUE
from .recognition import description_words, tool_words
from .state import SessionConfigError, StoredConversation, StoredItem

__all__ = [
    "MCP_CATALOGUE",
    "FunctionCallPlan",
    "McpCallPlan",
    "Plan",
    "SearchPlan",
    "check_tool_settings",
    "function_tools",
    "mcp_servers",
    "mcp_tools_for",
    "needs_approval",
    "plan_tools",
    "session_warnings",
    "timestamps_wanted",
]

TOOL_CHOICE_LITERALS = ("auto", "none", "required")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
QUOTE_LIMIT = 160
DESCRIBED_WORDS = 2
"""A spoken turn that names no tool calls the one it describes by this many of its words
(a word of its name no other tool's name has counts twice)."""


@dataclass(frozen=True)
class FunctionCallPlan:
    name: str
    arguments: str
    """JSON text, as the service streams it."""


@dataclass(frozen=True)
class McpCallPlan:
    server_label: str
    name: str
    arguments: str
    approval: bool


@dataclass(frozen=True)
class SearchPlan:
    kind: str
    """``"web"`` or ``"file"``."""
    query: str


@dataclass(frozen=True)
class Plan:
    """What a response does: call functions, call an MCP tool, or search, then speak."""

    functions: tuple[FunctionCallPlan, ...] = ()
    mcp: McpCallPlan | None = None
    search: SearchPlan | None = None


# -- session.update checks ----------------------------------------------------------------


def _check(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise SessionConfigError(message, param)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_tool(tool: Any, param: str) -> None:
    _check(isinstance(tool, dict), "each tool must be an object", param)
    kind = tool.get("type")
    if kind == "function":
        name = tool.get("name")
        _check(
            isinstance(name, str) and bool(NAME.match(name)),
            "function name must be 1 to 64 letters, digits, '_' or '-'",
            f"{param}.name",
        )
        params = tool.get("parameters")
        _check(params is None or isinstance(params, dict), "parameters must be an object", param)
    elif kind == "mcp":
        label, url = tool.get("server_label"), tool.get("server_url")
        _check(isinstance(label, str) and bool(label), "server_label is required", param)
        _check(
            isinstance(url, str) and urlparse(url).scheme in ("http", "https"),
            "server_url must be an http(s) URL",
            f"{param}.server_url",
        )
        allowed = tool.get("allowed_tools")
        _check(allowed is None or _str_list(allowed), "allowed_tools must be a list", param)
        approval = tool.get("require_approval", "always")
        _check(
            approval in ("always", "never")
            or (
                isinstance(approval, dict)
                and set(approval) <= {"always", "never"}
                and all(_str_list(v) for v in approval.values())
            ),
            "require_approval must be 'always', 'never' or {'always': [...], 'never': [...]}",
            f"{param}.require_approval",
        )
    else:
        _check(False, f"Unsupported tool type {kind!r} (function or mcp)", f"{param}.type")


def check_tool_settings(update: dict[str, Any]) -> None:
    """Reject (SessionConfigError) tool and timestamp settings the service would refuse."""
    if "tools" in update:
        tools = update["tools"]
        _check(isinstance(tools, list), "tools must be a list", "session.tools")
        for i, tool in enumerate(tools):
            _check_tool(tool, f"session.tools[{i}]")
    if "tool_choice" in update:
        choice = update["tool_choice"]
        _check(
            (isinstance(choice, str) and bool(choice))
            or (
                isinstance(choice, dict)
                and choice.get("type") == "function"
                and isinstance(choice.get("name"), str)
            ),
            "tool_choice must be 'auto', 'none', 'required', a function name or"
            " {'type': 'function', 'name': ...}",
            "session.tool_choice",
        )
    if "parallel_tool_calls" in update:
        _check(
            isinstance(update["parallel_tool_calls"], bool),
            "parallel_tool_calls must be a boolean",
            "session.parallel_tool_calls",
        )
    if "output_audio_timestamp_types" in update:
        kinds = update["output_audio_timestamp_types"]
        _check(
            kinds is None or (_str_list(kinds) and set(kinds) <= {"word"}),
            "output_audio_timestamp_types must be a list of 'word'",
            "session.output_audio_timestamp_types",
        )


def function_tools(tools: Any) -> list[dict[str, Any]]:
    """The function tools of a ``tools`` list."""
    return [t for t in tools or [] if isinstance(t, dict) and t.get("type") == "function"]


def mcp_servers(tools: Any) -> list[dict[str, Any]]:
    """The MCP servers of a ``tools`` list."""
    return [t for t in tools or [] if isinstance(t, dict) and t.get("type") == "mcp"]


def _chosen_name(choice: Any) -> str | None:
    if isinstance(choice, dict):
        return str(choice.get("name"))
    if isinstance(choice, str) and choice not in TOOL_CHOICE_LITERALS:
        return choice
    return None


def _is_azure_voice(voice: Any) -> bool:
    kind = voice.get("type") if isinstance(voice, dict) else None
    return isinstance(kind, str) and kind.startswith("azure")


def timestamps_wanted(session: dict[str, Any]) -> bool:
    """True when word timestamps were asked for and the voice is an Azure voice."""
    kinds = session.get("output_audio_timestamp_types") or []
    return "word" in kinds and _is_azure_voice(session.get("voice"))


def session_warnings(session: dict[str, Any], update: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, message) of the ``warning`` events a session.update earns: settings the
    service accepts but cannot honour."""
    warnings = []
    name = _chosen_name(session.get("tool_choice"))
    names = {t.get("name") for t in function_tools(session.get("tools"))}
    if ("tool_choice" in update or "tools" in update) and name and name not in names:
        warnings.append(
            (
                "tool_choice_unknown_function",
                f"tool_choice names '{name}', which is not a function tool of the session;"
                " no function will be called.",
            )
        )
    asked = "output_audio_timestamp_types" in update or "voice" in update
    if asked and session.get("output_audio_timestamp_types") and not timestamps_wanted(session):
        warnings.append(
            (
                "audio_timestamps_unsupported_voice",
                "Word timestamps are only returned for Azure voices; none will be sent.",
            )
        )
    return warnings


# -- MCP ------------------------------------------------------------------------------------


def mcp_tools_for(server: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tools an MCP server lists (after ``allowed_tools``); None: listing fails."""
    host = urlparse(str(server.get("server_url"))).hostname or ""
    if host.endswith(".invalid"):
        return None
    tools = MCP_CATALOGUE.get(str(server.get("server_label")), GENERIC_MCP_TOOLS)
    allowed = server.get("allowed_tools")
    return [t for t in tools if allowed is None or t["name"] in allowed]


def needs_approval(server: dict[str, Any], tool: str) -> bool:
    """``require_approval`` for one tool: unlisted tools need approval."""
    rule = server.get("require_approval", "always")
    if isinstance(rule, dict):
        return tool not in (rule.get("never") or [])
    return rule != "never"


# -- what a turn asks for ---------------------------------------------------------------


def _mentions(text: str, name: str) -> int:
    """Position of ``name`` as a whole word in ``text`` (-1: absent)."""
    found = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)
    return found.start() if found else -1


def _stem(word: str) -> str:
    word = word.lower()
    for ending in ("ies", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)] + ("y" if ending == "ies" else "")
    return word


def _spoken_mentions(text: str, name: str) -> int:
    """Position of a spoken mention of a tool in ``text`` (-1: absent): its name, all of its
    purpose words (``tool_words``), or the last of them, the thing it is about
    (``get_current_time``: "time"), singular or plural."""
    at = _mentions(text, name)
    words = tool_words(name)
    if at >= 0 or not words:
        return at
    spoken = [(m.start(), _stem(m.group())) for m in re.finditer(r"[\w']+", text)]
    where = {stem: pos for pos, stem in reversed(spoken)}
    if all(_stem(w) in where for w in words):
        return min(where[_stem(w)] for w in words)
    return where.get(_stem(words[-1]), -1)


def _placeholder(schema: Any) -> Any:
    schema = schema if isinstance(schema, dict) else {}
    if schema.get("enum"):
        return schema["enum"][0]
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(
        schema.get("type"), "example"
    )


def _coerce(value: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() in ("true", "yes", "1")
    return value


def arguments_for(name: str, schema: Any, text: str) -> str:
    """The JSON arguments of a call of ``name`` asked for in ``text`` (see module doc)."""
    schema = schema if isinstance(schema, dict) else {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required") or [] if r in props]
    args: dict[str, Any] = {}
    for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|(\S+))', text):
        if key in props:
            args[key] = _coerce(quoted or bare.rstrip(".,;!?"), props[key])
    missing = [r for r in required if r not in args]
    at = _mentions(text, name)
    rest = text[at + len(name) :] if at >= 0 else ""
    rest = re.sub(r'\w+=(?:"[^"]*"|\S+)', "", rest).strip(" .,;:!?\"'")
    rest = re.sub(r"^(?:for|in|about|on|of)\s+|[\s,]+please$", "", rest, flags=re.IGNORECASE)
    strings = [r for r in missing if (props[r] or {}).get("type", "string") == "string"]
    if len(strings) == 1 and rest:
        args[strings[0]] = rest[:QUOTE_LIMIT]
    for key, value in from_words(props, text, set(args)).items():
        args[key] = value[:QUOTE_LIMIT] if isinstance(value, str) else value
    for key in required:
        args.setdefault(key, _placeholder(props[key]))
    return json.dumps(args)


def _best_described(
    text: str, candidates: list[tuple[dict[str, Any] | None, dict[str, Any]]]
) -> tuple[dict[str, Any] | None, dict[str, Any]] | None:
    """The (server, tool) whose purpose a spoken turn describes best: the most of its
    name's and description's words (``tool_words``, ``description_words``), singular or
    plural, a word of its name that no other tool's name has counting twice; at least
    :data:`DESCRIBED_WORDS`; the first of equals."""
    heard = {_stem(w) for w in re.findall(r"[\w']+", text)}
    names = [{_stem(w) for w in tool_words(str(t["name"]))} for _, t in candidates]
    best, score = None, DESCRIBED_WORDS - 1
    for i, (server, tool) in enumerate(candidates):
        own = names[i] - set().union(*names[:i], *names[i + 1 :])
        said = {_stem(w) for w in description_words(str(tool.get("description") or ""))}
        found = len((names[i] | said) & heard) + len(own & heard)
        if found > score:
            best, score = (server, tool), found
    return best


def _function_calls(tools: list[dict[str, Any]], text: str) -> Plan:
    return Plan(
        functions=tuple(
            FunctionCallPlan(
                str(t["name"]), arguments_for(str(t["name"]), t.get("parameters"), text)
            )
            for t in tools
        )
    )


def _mcp_call(server: dict[str, Any], tool: dict[str, Any], text: str) -> Plan:
    return Plan(
        mcp=McpCallPlan(
            str(server["server_label"]),
            tool["name"],
            arguments_for(tool["name"], tool["input_schema"], text),
            needs_approval(server, tool["name"]),
        )
    )


def _latest_user_text(conversation: StoredConversation) -> StoredItem | None:
    last = conversation.items[-1] if conversation.items else None
    return last if last is not None and last.role == "user" else None


def plan_tools(
    conversation: StoredConversation,
    session: dict[str, Any],
    overrides: dict[str, Any],
    agent_mode: bool,
) -> Plan:
    """The tool activity a response starts with (an empty Plan: it only speaks)."""
    turn = _latest_user_text(conversation)
    if turn is None:
        return Plan()
    tools = overrides.get("tools", session.get("tools"))
    choice = overrides.get("tool_choice", session.get("tool_choice") or "auto")
    spoken = turn.kind == "audio"
    text = turn.text if not spoken or not turn.text.startswith("[speech") else ""
    mentions = _spoken_mentions if spoken else _mentions
    if choice != "none":
        functions = function_tools(tools)
        listed = [(server, t) for server in mcp_servers(tools) for t in mcp_tools_for(server) or []]
        forced = _chosen_name(choice)
        if forced is not None:
            named = [t for t in functions if t.get("name") == forced]
        else:
            found = [(mentions(text, str(t["name"])), t) for t in functions] if text else []
            named = [t for at, t in sorted(found, key=lambda f: f[0]) if at >= 0]
        if not session.get("parallel_tool_calls", True):
            named = named[:1]
        if named:
            return _function_calls(named, text)
        if forced is None:
            for server, tool in listed if text else []:
                if mentions(text, tool["name"]) >= 0:
                    return _mcp_call(server, tool, text)
            if spoken and text:
                candidates: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [
                    (None, t) for t in functions
                ]
                described = _best_described(text, [*candidates, *listed])
                if described is not None:
                    owner, chosen = described
                    if owner is None:
                        return _function_calls([chosen], text)
                    return _mcp_call(owner, chosen, text)
            if choice == "required" and functions:
                return _function_calls(functions[:1], text)
            if choice == "required" and listed:
                return _mcp_call(*listed[0], text)
    if agent_mode and _mentions(text, "search") >= 0:
        kind = "file" if re.search(r"\bfiles?\b", text, re.IGNORECASE) else "web"
        query = re.split(r"\bsearch\b", text, maxsplit=1, flags=re.IGNORECASE)[1]
        query = re.sub(r"^\s*(the web|my files|the files|files|web)?\s*(for|about)?\s*", "", query)
        return Plan(search=SearchPlan(kind, query.strip(" .?!\"'")[:QUOTE_LIMIT] or "Voice Live"))
    return Plan()


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mcp_output(call: McpCallPlan) -> str:
    """The emulated result of an MCP tool call (text, as MCP servers return it)."""
    args = json.loads(call.arguments or "{}")
    detail = ", ".join(f"{k}={v}" for k, v in args.items()) or "no arguments"
    return f"Emulated answer, {detail}."
