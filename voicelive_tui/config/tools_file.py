"""The ``--tools FILE`` of model mode, loaded and checked at start-up.

The file holds a JSON list of tools in the SDK's FunctionTool shape (``name``,
``description``, ``parameters``; ``type`` defaults to ``"function"``) or MCPServer shape
(``type: "mcp"``, ``server_label``, ``server_url``, ``allowed_tools``,
``require_approval``), or an object ``{"tools": [...], "tool_choice": ...}``. Answering
the calls at run time is :mod:`voicelive_tui.session.tool_calls`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ToolSet", "has_functions", "load_tools"]

MAX_TOOLS_FILE_BYTES = 1024 * 1024
TOOL_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True)
class ToolSet:
    tools: tuple[dict[str, Any], ...]
    tool_choice: str | dict[str, Any] | None = None


def _check_mcp_server(where: str, tool: dict[str, Any]) -> dict[str, Any]:
    label, url = tool.get("server_label"), tool.get("server_url")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{where} (mcp) has no server_label")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError(f"{where} ({label}): server_url must be an http(s) URL")
    allowed = tool.get("allowed_tools")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
    ):
        raise ValueError(f"{where} ({label}): allowed_tools must be a list of names")
    approval = tool.get("require_approval", "always")
    if approval not in ("always", "never") and not isinstance(approval, dict):
        raise ValueError(f"{where} ({label}): require_approval must be always, never or an object")
    server: dict[str, Any] = {"type": "mcp", "server_label": label, "server_url": url}
    server["require_approval"] = approval
    if allowed is not None:
        server["allowed_tools"] = allowed
    return server


def _check_tool(i: int, tool: Any) -> dict[str, Any]:
    where = f"tool {i + 1}"
    if not isinstance(tool, dict):
        raise ValueError(f"{where} is not an object")
    if tool.get("type") == "mcp":
        return _check_mcp_server(where, tool)
    if tool.get("type", "function") != "function":
        raise ValueError(f"{where} has type {tool.get('type')!r}; expected 'function' or 'mcp'")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} has no name")
    params = tool.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        raise ValueError(f"{where} ({name}): parameters must be a JSON Schema object")
    description = tool.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where} ({name}): description must be a string")
    return {"type": "function", "name": name, "description": description, "parameters": params}


def load_tools(path: Path) -> ToolSet:
    """The tools of ``path``; ValueError with a one-line reason when it cannot be used."""
    try:
        if path.stat().st_size > MAX_TOOLS_FILE_BYTES:
            raise ValueError("larger than 1 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(exc.strerror or exc.__class__.__name__) from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    choice = None
    if isinstance(data, dict):
        choice = data.get("tool_choice")
        data = data.get("tools")
    if not isinstance(data, list) or not data:
        raise ValueError('expected a non-empty list of tools (or {"tools": [...]})')
    tools = tuple(_check_tool(i, tool) for i, tool in enumerate(data))
    names = [t["name"] for t in tools if t["type"] == "function"]
    if choice is not None and not (
        choice in TOOL_CHOICES
        or choice in names
        or (isinstance(choice, dict) and choice.get("name") in names)
    ):
        raise ValueError("tool_choice must be auto, none, required or one of the tools' names")
    if isinstance(choice, str) and choice in names:
        choice = {"type": "function", "name": choice}
    return ToolSet(tools, choice)


def has_functions(tools: tuple[dict[str, Any], ...]) -> bool:
    """True when some of ``tools`` are function tools (calls to answer)."""
    return any(t.get("type") == "function" for t in tools)
