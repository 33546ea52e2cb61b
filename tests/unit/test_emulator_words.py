"""The emulated agent's way with words around tools: a call's arguments taken from the
request (``emulator/arguments.py`` via ``tools.arguments_for``) and a tool's result
answered with a sentence (``emulator/wording.py``)."""

from __future__ import annotations

import json

import pytest

from voicelive_tui.emulator.tools import arguments_for
from voicelive_tui.emulator.wording import mcp_answer, tool_answer

WEATHER = {  # the project's README example
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
    "required": ["city"],
}
SAMPLE_WEATHER = {  # async_function_calling_sample.py's get_current_weather
    "type": "object",
    "properties": {
        "location": {
            "type": "string",
            "description": "The city and state, e.g., 'San Francisco, CA'",
        },
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}
SAMPLE_TIME = {
    "type": "object",
    "properties": {
        "timezone": {"type": "string", "description": "The timezone, e.g., 'UTC', 'local'"}
    },
    "required": [],
}
ASK = {  # deepwiki's ask_question
    "type": "object",
    "properties": {"repoName": {"type": "string"}, "question": {"type": "string"}},
    "required": ["question"],
}


@pytest.mark.parametrize(
    "tool, schema, request_text, expected",
    [
        ("get_weather", WEATHER, "What is the weather in Lisbon?", {"city": "Lisbon"}),
        ("get_weather", WEATHER, "get_weather for Paris please", {"city": "Paris"}),
        ("get_weather", WEATHER, "How is the weather?", {"city": "example"}),  # not said
        (
            "get_current_weather",
            SAMPLE_WEATHER,
            "What's the weather in San Francisco today, in fahrenheit?",
            {"location": "San Francisco", "unit": "fahrenheit"},
        ),
        # A recogniser's transcript: lower case, no punctuation.
        (
            "get_current_weather",
            SAMPLE_WEATHER,
            "what is the weather in new york city today please",
            {"location": "New York City"},
        ),
        ("get_current_weather", SAMPLE_WEATHER, "what's the weather in seattle and jerry",
         {"location": "Seattle"}),
        ("get_current_time", SAMPLE_TIME, "What time is it in UTC?", {"timezone": "UTC"}),
        ("get_current_time", SAMPLE_TIME, "what time is it", {}),
        (
            "ask_question",
            ASK,
            "How are retries done in Azure/azure-sdk-for-python?",
            {
                "repoName": "Azure/azure-sdk-for-python",
                "question": "How are retries done in Azure/azure-sdk-for-python?",
            },
        ),
    ],
)  # fmt: skip
def test_arguments_come_from_the_request_words(tool, schema, request_text, expected):
    assert json.loads(arguments_for(tool, schema, request_text)) == expected


def test_key_value_pairs_still_win_over_the_words():
    args = arguments_for("get_weather", WEATHER, "weather in Lisbon city=Porto unit=C")
    assert json.loads(args) == {"city": "Porto", "unit": "C"}


SAMPLE_RESULT = {
    "location": "Seattle",
    "temperature": 22,
    "unit": "celsius",
    "condition": "Partly Cloudy",
    "humidity": 65,
    "wind_speed": 10,
}


def test_a_result_is_answered_with_a_sentence_that_uses_it():
    said = tool_answer("get_current_weather", '{"location": "Seattle"}', json.dumps(SAMPLE_RESULT))
    assert said == (
        "Here is the current weather for Seattle: the temperature is 22, the unit is celsius,"
        " the condition is Partly Cloudy, the humidity is 65 and the wind speed is 10."
    )


@pytest.mark.parametrize(
    "output, said",
    [
        ('{"error": "no such city"}', "I could not get the weather for Lisbon: no such city."),
        ("{}", "I looked up the weather for Lisbon, but it came back empty."),
        ('["sun", "wind"]',
         "I looked up the weather for Lisbon and found 2 results: sun and wind."),
        ("Sunny and mild", "Here is the weather for Lisbon: Sunny and mild."),
        ('{"open": true, "hours": [9, 17]}',
         "Here is the weather for Lisbon: the open is yes and the hours are 9 and 17."),
    ],
)  # fmt: skip
def test_errors_lists_and_text_results_are_said_too(output, said):
    assert tool_answer("get_weather", '{"city": "Lisbon"}', output) == said


def test_no_json_is_read_out():
    nested = json.dumps({"forecast": {"day": "sun"}, "sky": "clear", "note": None})
    said = tool_answer("getWeather", "not json", nested)
    assert said == "Here is the weather: the sky is clear."
    assert not set('{}[]"') & set(said)


def test_an_mcp_answer_says_what_the_server_said():
    said = mcp_answer("ask_question", "deepwiki", "Retries use  exponential\nback-off.")
    assert said == (
        "I asked deepwiki with ask question, and it says: Retries use exponential back-off."
    )
