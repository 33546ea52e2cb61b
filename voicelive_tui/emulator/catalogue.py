"""The tools the emulator's MCP servers list, by ``server_label`` (no network)."""

from __future__ import annotations

from typing import Any

__all__ = ["GENERIC_MCP_TOOLS", "MCP_CATALOGUE"]

_SCHEMA_TEXT = {"type": "object", "properties": {"query": {"type": "string"}}}
MCP_CATALOGUE: dict[str, list[dict[str, Any]]] = {
    "deepwiki": [
        {
            "name": "read_wiki_structure",
            "description": "Get a list of documentation topics for a GitHub repository.",
            "input_schema": {"type": "object", "properties": {"repoName": {"type": "string"}}},
        },
        {
            "name": "read_wiki_contents",
            "description": "View documentation about a GitHub repository.",
            "input_schema": {"type": "object", "properties": {"repoName": {"type": "string"}}},
        },
        {
            "name": "ask_question",
            "description": "Ask any question about a GitHub repository.",
            "input_schema": {
                "type": "object",
                "properties": {"repoName": {"type": "string"}, "question": {"type": "string"}},
                "required": ["question"],
            },
        },
    ],
    "azure_doc": [
        {
            "name": "microsoft_docs_search",
            "description": "Search official Microsoft documentation.",
            "input_schema": {**_SCHEMA_TEXT, "required": ["query"]},
        },
        {
            "name": "microsoft_docs_fetch",
            "description": "Fetch a Microsoft documentation page as markdown.",
            "input_schema": {
                "type": "object",
                "properties": {"url": {"type": "string"}},
                "required": ["url"],
            },
        },
    ],
}
"""Tools each MCP server label lists (no network). Any other label lists
:data:`GENERIC_MCP_TOOLS`; a ``server_url`` whose host ends in ``.invalid`` fails to list."""
MCP_CATALOGUE["microsoft_learn"] = MCP_CATALOGUE["azure_doc"]
GENERIC_MCP_TOOLS: list[dict[str, Any]] = [
    {
        "name": "search",
        "description": "Search the server's content.",
        "input_schema": {**_SCHEMA_TEXT, "required": ["query"]},
    },
    {
        "name": "fetch",
        "description": "Fetch one document by id.",
        "input_schema": {
            "type": "object",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
        },
    },
]
