"""Barge-in decisions from the conversation state and the played position alone."""

from __future__ import annotations

import base64
from typing import Any

from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.session.bargein import plan_barge_in


def _audio(ms: int) -> str:
    return base64.b64encode(bytes(ms * 48)).decode("ascii")


def _replying(audio_ms: int, *, done: bool) -> Conversation:
    conv = Conversation()
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r1"}},
        {"type": "response.output_item.added", "response_id": "r1", "item": {"id": "a1"}},
        {
            "type": "response.audio.delta",
            "response_id": "r1",
            "item_id": "a1",
            "delta": _audio(audio_ms),
        },
    ]
    if done:
        events.append({"type": "response.done", "response": {"id": "r1", "status": "completed"}})
    for now, event in enumerate(events):
        conv.apply_received(event, float(now))
    return conv


def test_an_active_reply_is_cancelled_and_cut_where_the_user_stopped_hearing_it() -> None:
    plan = plan_barge_in(_replying(2000, done=False), "a1", 700)
    assert plan.response_id == "r1"
    assert (plan.truncate_item, plan.audio_end_ms) == ("a1", 700)


def test_a_finished_reply_still_playing_is_cut_but_not_cancelled() -> None:
    plan = plan_barge_in(_replying(2000, done=True), "a1", 1200)
    assert plan.response_id is None
    assert (plan.truncate_item, plan.audio_end_ms) == ("a1", 1200)


def test_a_finished_reply_heard_to_its_end_is_left_alone() -> None:
    plan = plan_barge_in(_replying(2000, done=True), "a1", 2000)
    assert plan.response_id is None and plan.truncate_item is None


def test_an_item_already_cut_is_not_cut_twice() -> None:
    conv = _replying(2000, done=True)
    conv.interrupt("a1", 500)
    assert plan_barge_in(conv, "a1", 900).truncate_item is None


def test_with_no_audio_queued_only_the_active_response_is_cancelled() -> None:
    plan = plan_barge_in(_replying(2000, done=False), None, 0)
    assert plan.response_id == "r1" and plan.truncate_item is None
