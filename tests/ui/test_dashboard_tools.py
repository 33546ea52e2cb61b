"""Agent activity in the dashboard's conversation panel, against the in-process emulator."""

from __future__ import annotations

from .conftest import SIZE, wait_for
from .test_dashboard import turn_texts

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def test_a_function_call_shows_in_the_conversation(emulator, dashboard):
    dash = dashboard(emulator, greeting=False, tools=(WEATHER,), tool_output='{"sky": "clear"}')
    async with dash.app.run_test(size=SIZE) as pilot:
        app = dash.app
        await wait_for(pilot, lambda: app.status_bar.view.connection == "ready")
        await pilot.press("t")
        await pilot.press(*"get_weather in Paris", "enter")
        await wait_for(
            pilot,
            lambda: any("get_weather returned" in t for t in turn_texts(app)),
            what="the answer quoting the tool's output",
        )
        texts = turn_texts(app)
    call = next(i for i, t in enumerate(texts) if "⚙ called get_weather(city=Paris)" in t)
    assert '→ {"sky": "clear"}' in texts[call] and " ms" in texts[call]
    assert "(no transcript)" not in texts[call]
    answer = next(i for i, t in enumerate(texts) if "get_weather returned" in t)
    assert call < answer
