"""What the emulated agent says: the reply's words, its speech and the token usage.

- To ``response.create`` with no new user turn: a greeting saying it is the local emulator
  (in agent mode on a continued conversation: a welcome back that shows it remembers).
- To a spoken turn: what it heard (the recogniser's words), then the user's own audio played
  back (an echo test).
- To a text message: a reply that quotes it.
- To a tool's result: a sentence that uses it, as a model would (:func:`tool_answer`),
  not the JSON read out.

How the reply streams is :mod:`.responder`'s part.
"""

from __future__ import annotations

import json
import re
from typing import Any

from azure.ai.voicelive import models as m

from .speech import WordTime, synthesize_words
from .state import StoredConversation, StoredItem

__all__ = ["compose_reply", "mcp_answer", "speak", "token_usage", "tool_answer"]

QUOTE_LIMIT = 200
ANSWER_FIELDS = 8
"""Most fields of a tool's result an answer names."""
ANSWER_ITEMS = 5
"""Most entries of a list result an answer names."""
TOOL_VERBS = frozenset({"get", "fetch", "lookup", "look", "find", "read", "query", "check"})


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


def _recognised(item: StoredItem) -> bool:
    """True when the recogniser gave words for a spoken turn (not ``[speech, N s]``)."""
    return bool(item.text) and not item.text.startswith("[speech")


def _describe(item: StoredItem) -> str:
    if item.kind == "audio" and not _recognised(item):
        return f"{item.audio_ms / 1000:.1f} seconds of speech"
    return f'"{_quote(item.text)}"'


def _heard(turn: StoredItem) -> str:
    seconds = turn.audio_ms / 1000
    if _recognised(turn):
        return f'I heard: "{_quote(turn.text)}".'
    if turn.text:  # recognition failed: only the length is known
        return f"I heard {seconds:.1f} seconds of speech."
    return f"I heard {seconds:.1f} seconds of sound, but no words I know."


def compose_reply(
    conversation: StoredConversation, agent_name: str | None
) -> tuple[str, StoredItem | None]:
    """Choose what to say next: (sentence, user audio item to play back or None)."""
    turn: StoredItem | None = None
    for item in reversed(conversation.items):
        if item.role == "assistant":
            break
        if item.role == "user":
            turn = item
            break
    earlier = [i for i in conversation.items if i.role == "user" and i is not turn]
    if turn is None:
        if agent_name and earlier:
            return (
                f"Welcome back. I remember {len(earlier)} earlier messages in this conversation;"
                f" the last one was {_describe(earlier[-1])}.",
                None,
            )
        who = f"I am {agent_name}, an agent on" if agent_name else "This is"
        return (
            f"Hello! {who} the local Voice Live emulator. Speak, and I will play your words"
            " back to you, or type a message.",
            None,
        )
    memory = ""
    if agent_name and earlier:
        memory = f" Earlier in this conversation you sent {_describe(earlier[-1])}."
    if turn.kind == "audio":
        return f"{_heard(turn)} Here it is played back.{memory}", turn
    return f'You said: "{_quote(turn.text)}".{memory}', None


def _words_of(name: str) -> list[str]:
    """``get_current_weather`` / ``getCurrentWeather`` -> ["get", "current", "weather"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w.lower() for w in re.split(r"[\s_\-]+", spaced) if w]


def _subject(tool: str) -> str:
    """What a tool tells, from its name: ``get_current_weather`` -> "the current weather"."""
    words = _words_of(tool)
    if len(words) > 1 and words[0] in TOOL_VERBS:
        words = words[1:]
    return "the " + " ".join(words)


def _spoken(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _quote(str(value))


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _fields(result: dict[str, Any], known: set[str]) -> list[str]:
    """``the <key> is <value>`` for the scalar fields of ``result`` (lists as "a, b and
    c"), leaving out what the request already said (``known``)."""
    said = []
    for key, value in result.items():
        verb = "is"
        if isinstance(value, list) and value and all(not isinstance(v, dict | list) for v in value):
            value, verb = _and([_spoken(v) for v in value[:ANSWER_ITEMS]]), "are"
        elif isinstance(value, dict | list) or value is None:
            continue
        text = _spoken(value)
        if text.lower() in known or not text:
            continue
        said.append(f"the {' '.join(_words_of(key))} {verb} {text}")
    return said[:ANSWER_FIELDS]


def tool_answer(tool: str, arguments: str, output: str) -> str:
    """One sentence that tells what ``tool`` called with ``arguments`` (JSON) found."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        args = {}
    values = args.values() if isinstance(args, dict) else ()
    given = [v for v in values if isinstance(v, str) and v]
    about = _subject(tool) + (f" for {_and(given)}" if given else "")
    try:
        result = json.loads(output)
    except ValueError:
        result = output
    if isinstance(result, dict) and result.get("error"):
        return f"I could not get {about}: {_spoken(result['error'])}."
    if isinstance(result, dict):
        said = _fields(result, {g.lower() for g in given})
        if not said:
            return f"I looked up {about}, but it came back empty."
        return f"Here is {about}: {_and(said)}."
    if isinstance(result, list):
        if not result:
            return f"I looked up {about} and found nothing."
        items = [_spoken(r) for r in result[:ANSWER_ITEMS] if not isinstance(r, dict | list)]
        found = f"{len(result)} results" if len(result) != 1 else "one result"
        return f"I looked up {about} and found {found}" + (f": {_and(items)}." if items else ".")
    if result is None or str(result).strip() == "":
        return f"I looked up {about}, but it came back empty."
    return f"Here is {about}: {_spoken(result)}."


def mcp_answer(tool: str, server: str, output: str) -> str:
    """One sentence that tells what an MCP server's ``tool`` answered (text)."""
    answer = " ".join(output.split())
    if not answer:
        return f"I asked {server} with {' '.join(_words_of(tool))}, but it answered nothing."
    return f"I asked {server} with {' '.join(_words_of(tool))}, and it says: {_quote(answer)}"


async def speak(text: str, rate: int, min_ms: int = 0) -> tuple[str, bytes, list[WordTime]]:
    """The sentence, its PCM16 speech and word times, repeated until it lasts ``min_ms``."""
    speech = await synthesize_words(text, rate)
    span = max(1, len(speech.pcm) * 1000 // (2 * rate))
    repeats = max(1, -(-min_ms // span))
    tokens = len(text.split(" "))
    words = [
        WordTime(w.token + n * tokens, w.text, w.start_ms + n * span, w.duration_ms)
        for n in range(repeats)
        for w in speech.words
    ]
    return " ".join([text] * repeats), speech.pcm * repeats, words


AUDIO_IN_TOKENS_PER_S = 10
AUDIO_OUT_TOKENS_PER_S = 20
"""About what Azure OpenAI realtime models bill per second of audio (Voice Live docs)."""
INPUT_KINDS = ("function_call_output", "mcp_approval_response")
"""Tool items the client adds: they are the model's input, like the user's turns."""


def _words(text: str) -> int:
    return len(text.split())


def _input_tokens(item: StoredItem) -> tuple[int, int]:
    """(text, audio) tokens an input item costs: audio at 10 a second, text by word."""
    if item.role == "user":
        if item.kind == "audio":
            return 0, item.audio_ms * AUDIO_IN_TOKENS_PER_S // 1000
        return _words(item.text), 0
    if item.kind in INPUT_KINDS:
        return _words(str(item.data.get("output") or item.data.get("approve") or "")), 0
    return 0, 0


def token_usage(
    conversation: StoredConversation,
    reply: StoredItem | None,
    instructions: str,
    tool_text: str = "",
) -> m.TokenUsage:
    """The ``response.usage`` of a response ending now, and the spend it adds.

    Input: the instructions (cached once a response of this conversation processed them)
    and the input items added since the last response; unlike the real service the earlier
    context is not counted again, so input audio tokens stay near 10 per second sent.
    Output: ``reply``'s words and 20 tokens per second of its audio, and ``tool_text``
    (the arguments of the calls it made).
    """
    fresh = conversation.items[conversation.billed_items :]
    text_in = audio_in = 0
    for item in fresh:
        if item is not reply:
            text, audio = _input_tokens(item)
            text_in, audio_in = text_in + text, audio_in + audio
    instruction_tokens = _words(instructions)
    cached = instruction_tokens if conversation.responses else 0
    text_in += instruction_tokens
    text_out = _words(tool_text) + (_words(reply.text) if reply is not None else 0)
    audio_out = (
        reply.audio_ms * AUDIO_OUT_TOKENS_PER_S // 1000
        if reply is not None and reply.kind == "audio"
        else 0
    )
    total = text_in + audio_in + text_out + audio_out
    conversation.billed_items = len(conversation.items)
    conversation.responses += 1
    conversation.spent_tokens += total
    return m.TokenUsage(
        total_tokens=total,
        input_tokens=text_in + audio_in,
        output_tokens=text_out + audio_out,
        input_token_details=m.InputTokenDetails(
            cached_tokens=cached,
            text_tokens=text_in,
            audio_tokens=audio_in,
            image_tokens=0,
            cached_tokens_details=m.CachedTokenDetails(
                text_tokens=cached, audio_tokens=0, image_tokens=0
            ),
        ),
        output_token_details=m.OutputTokenDetails(text_tokens=text_out, audio_tokens=audio_out),
    )
