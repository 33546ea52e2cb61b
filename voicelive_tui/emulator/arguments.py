"""A call's arguments taken from the words of the request, as a model would take them.

Rules, for each parameter of the tool's JSON Schema that ``key=value`` pairs did not give
(``tools.arguments_for`` applies those first):

- a parameter with an ``enum`` gets the value the request names ("in fahrenheit");
- a place-like string parameter (its name or description says city, location, place,
  country, region, town, state, address, destination or time zone) gets the words after
  "in", "at", "near" or "for": in typed text the capitalised words there ("What is the
  weather in San Francisco today?" gives ``San Francisco``), in a lower-case transcript
  up to three words before a word such as "today" or "please", capitalised;
- a repository-like parameter (``repo``, ``repository``, ``repoName``) gets an
  ``owner/name`` the request holds;
- a ``question``, ``query``, ``prompt`` or ``text`` parameter gets the whole request;
- a number or integer parameter gets the request's only number.

Nothing is made up here: a parameter the words do not give is left out (the caller puts
a placeholder in a required one).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["from_words"]

PLACE_HINTS = re.compile(
    r"city|location|place|country|region|town|state|address|destination|time ?zone|where",
    re.IGNORECASE,
)
REPO_NAMES = re.compile(r"^repo(sitory)?(_?name)?$", re.IGNORECASE)
WHOLE_REQUEST_NAMES = {"question", "query", "prompt", "text", "request", "input"}
PLACE_WORDS = 3
"""Most words a place name is taken from a lower-case transcript."""
STOP_WORDS = frozenset(
    "today tonight tomorrow yesterday now right currently please this these that "
    "and or but then is are was be it at in on for with".split()
)
PREPOSITIONS = r"in|at|near|for"


def _words_after_preposition(text: str) -> str | None:
    """The place the request names after a preposition, or None."""
    typed = text != text.lower()
    for match in re.finditer(rf"\b(?:{PREPOSITIONS})\s+(?:the\s+)?(.+)", text, re.IGNORECASE):
        tail = re.split(r"[?!.;:\"]", match.group(1), maxsplit=1)[0]
        words: list[str] = []
        for raw in tail.split():
            word = raw.strip(",'")
            if not word:
                break
            if typed:
                # Typed text: the capitalised words (and "of", as in "Isle of Man").
                if word[0].isupper() or word[0].isdigit() or (words and word == "of"):
                    words.append(word)
                    if raw.endswith(","):
                        break
                    continue
                break
            if word.lower() in STOP_WORDS or len(words) == PLACE_WORDS:
                break
            words.append(word.capitalize())
        while words and words[-1] == "of":
            words.pop()
        if words:
            return " ".join(words)
    return None


def _mentioned(text: str, value: str) -> bool:
    pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _one_number(text: str) -> float | None:
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", text)
    return float(numbers[0]) if len(numbers) == 1 else None


def from_words(properties: dict[str, Any], text: str, skip: set[str]) -> dict[str, Any]:
    """The arguments ``text`` gives for ``properties`` (a JSON Schema's), but not ``skip``."""
    args: dict[str, Any] = {}
    request = " ".join(text.split()).strip()
    if not request:
        return args
    for key, schema in properties.items():
        if key in skip:
            continue
        schema = schema if isinstance(schema, dict) else {}
        kind = schema.get("type", "string")
        enum = schema.get("enum")
        if isinstance(enum, list):
            named = [v for v in enum if isinstance(v, str) and _mentioned(request, v)]
            if named:
                args[key] = named[0]
            continue
        if kind in ("number", "integer"):
            number = _one_number(request)
            if number is not None:
                args[key] = int(number) if kind == "integer" else number
            continue
        if kind != "string":
            continue
        described = f"{key} {schema.get('description') or ''}"
        if REPO_NAMES.match(key):
            repo = re.search(r"\b[\w.-]+/[\w.-]+\b", request)
            if repo:
                args[key] = repo.group(0).rstrip(".")
        elif key.lower() in WHOLE_REQUEST_NAMES:
            args[key] = request
        elif PLACE_HINTS.search(re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", described)):
            place = _words_after_preposition(request)
            if place:
                args[key] = place
    return args
