"""Time from a function's result to the agent's answer, as the SDK's function-calling sample
waits for it (``async_function_calling_sample.py`` gives up after 10 s).

The real SDK talks to an in-process emulator at real speed: the sample's two tools, a
``tool_choice`` naming ``get_current_weather`` (so that an emulator that cannot tell which
tool a request is about calls it too), a typed "What's the weather in Seattle?", the call;
then the sample's own result (its ``get_current_weather`` JSON) as a
``function_call_output``, ``response.create``, and the clock runs until the answer's
``response.output_item.done`` (what the sample waits for) and ``response.done``.
Each pacing the emulator offers is measured (an emulator without pacings: its own).

Run: ``python benchmarks/tool_answer.py``; against another checkout's emulator, put it
first on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: a checkout on PYTHONPATH comes first

from azure.ai.voicelive.aio import connect  # noqa: E402
from azure.ai.voicelive.models import (  # noqa: E402
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    UserMessageItem,
)
from azure.core.credentials import AzureKeyCredential  # noqa: E402

from voicelive_tui.emulator import Emulator, run_emulator  # noqa: E402

KEY = "tool-answer-key"
SAMPLE_WAIT_S = 10.0
"""How long the SDK's sample waits for the answer after sending the result."""
QUESTION = "What's the weather in Seattle?"
TOOLS = [  # as async_function_calling_sample.py defines them
    FunctionTool(
        name="get_current_time",
        description="Get the current time",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "e.g. 'UTC'"}},
            "required": [],
        },
    ),
    FunctionTool(
        name="get_current_weather",
        description="Get the current weather in a given location",
        parameters={
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    ),
]


def sample_weather(arguments: str) -> dict[str, Any]:
    """What the sample's ``get_current_weather`` returns."""
    args = json.loads(arguments or "{}")
    unit = args.get("unit", "celsius")
    return {
        "location": args.get("location", "Unknown"),
        "temperature": 22 if unit == "celsius" else 72,
        "unit": unit,
        "condition": "Partly Cloudy",
        "humidity": 65,
        "wind_speed": 10,
    }


async def _next(conn: Any, wanted: str) -> Any:
    async for event in conn:
        if event.type == wanted:
            return event
    raise RuntimeError(f"the connection closed before {wanted}")


async def measure(pacing: str | None) -> dict[str, Any]:
    """One round trip; ``pacing`` None: the emulator's only pacing."""
    options: dict[str, Any] = {"speed": 1.0, "api_key": KEY}
    if pacing is not None:
        options["pacing"] = pacing
    async with (
        run_emulator(**options) as emu,
        connect(
            endpoint=emu.endpoint, credential=AzureKeyCredential(KEY), model="gpt-realtime"
        ) as conn,
    ):
        await conn.session.update(
            session={
                "tools": TOOLS,
                "tool_choice": {"type": "function", "name": "get_current_weather"},
                "modalities": ["text", "audio"],
            }
        )
        await _next(conn, "session.updated")
        await conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text=QUESTION)])
        )
        await conn.response.create()
        call = await _next(conn, "response.function_call_arguments.done")
        await _next(conn, "response.done")
        output = json.dumps(sample_weather(call.arguments))
        await conn.conversation.item.create(
            item=FunctionCallOutputItem(call_id=call.call_id, output=output)
        )
        sent = time.monotonic()
        await conn.response.create()
        audio_bytes = 0
        answered = transcript = None
        async for event in conn:
            if event.type == "response.audio.delta":
                audio_bytes += len(event.delta)
            elif event.type == "response.output_item.done" and answered is None:
                answered = time.monotonic() - sent
                transcript = event.item.content[0].transcript
            elif event.type == "response.done":
                done = time.monotonic() - sent
                break
    return {
        "pacing": pacing or "(only one)",
        "arguments": call.arguments,
        "answer_s": answered,
        "done_s": done,
        "audio_s": audio_bytes / 48_000,
        "transcript": transcript,
    }


def pacings() -> list[str | None]:
    """The pacings this checkout's emulator offers (None: it has no choice)."""
    if "pacing" not in inspect.signature(Emulator).parameters:
        return [None]
    from voicelive_tui.emulator.schedule import PACINGS

    return list(PACINGS)


async def main() -> int:
    rows = [await measure(pacing) for pacing in pacings()]
    print(
        "| pacing | call arguments | result to answer (output_item.done) | to response.done"
        " | answer audio | within the sample's 10 s |"
    )
    print("|---|---|---:|---:|---:|---|")
    for r in rows:
        ok = "yes" if r["answer_s"] is not None and r["answer_s"] <= SAMPLE_WAIT_S else "**no**"
        print(
            f"| {r['pacing']} | `{r['arguments']}` | {r['answer_s']:.1f} s | {r['done_s']:.1f} s"
            f" | {r['audio_s']:.1f} s | {ok} |"
        )
    for r in rows:
        print(f"\n{r['pacing']}: {r['transcript']}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
