"""The conversation as Markdown (``e`` in the dashboard): turns, interruptions, the agent's
tool activity and citations, latency.

Pure: a conversation, the turns' timings and a clock label function in, text out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from voicelive_tui.conversation.activity import describe, footnotes
from voicelive_tui.conversation.latency import TurnTiming
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.conversation.turns import Turn
from voicelive_tui.conversation.usage import compact
from voicelive_tui.safe_text import displayable

WHO = {"user": "You", "agent": "Agent", "system": "Notice"}


def turn_heading(turn: Turn, label: Callable[[float], str]) -> str:
    kind = "typed" if turn.kind == "text" and turn.role == "user" else turn.kind
    return f"**{WHO.get(turn.role, turn.role)}** ({label(turn.started_at)}, {kind})"


def interruption(turn: Turn) -> str:
    if not turn.interrupted:
        return ""
    by = turn.interrupted_by or "the user"
    heard = f" after {turn.heard_ms / 1000:.1f} s heard" if turn.heard_ms is not None else ""
    return f" _[interrupted by {by}{heard}]_"


def latency_note(timing: TurnTiming | None) -> str:
    if timing is None or timing.total_ms is None:
        return ""
    stages = ", ".join(f"{name} {ms:.0f} ms" for name, ms in timing.stages())
    approx = "~" if timing.estimated else ""
    waited = (
        f" (and {timing.approval_wait_ms:.0f} ms waiting for approval, not counted)"
        if timing.waits
        else ""
    )
    return f"\n\n> latency {approx}{timing.total_ms:.0f} ms: {stages}{waited}"


def conversation_markdown(
    conversation: Conversation,
    timings: Sequence[TurnTiming],
    label: Callable[[float], str],
    *,
    title: str = "Voice Live conversation",
) -> str:
    """The whole conversation as a Markdown document."""
    session = conversation.session
    lines = [f"# {title}", ""]
    facts = [
        ("Session", session.id),
        ("Model", session.model),
        ("Agent", session.agent_name),
        ("Voice", session.voice),
        ("Conversation", session.conversation_id),
    ]
    lines += [f"- {name}: `{value}`" for name, value in facts if value]
    if conversation.usage.responses:
        total = conversation.usage.total
        lines.append(
            f"- Tokens: {total.total_tokens} ({compact(total)}, "
            f"{len(conversation.usage.responses)} responses)"
        )
        cost = conversation.cost()
        if cost is not None:
            lines.append(f"- Cost: {cost.label()}")
    lines.append("")
    by_item = {t.item_id: t for t in timings if t.item_id}
    for turn in conversation.turns:
        lines.append(turn_heading(turn, label))
        lines.append("")
        lines += [f"- ⚙ {describe(entry)}" for entry in turn.activity]
        if turn.activity:
            lines.append("")
        if turn.text.strip() or not turn.activity:
            body = (turn.text.strip() or "_(no words)_") + interruption(turn)
            if turn.cut_estimated and turn.interrupted:
                body += " _(cut estimated)_"
            if turn.role == "agent":
                body += latency_note(by_item.get(turn.item_id or ""))
                if turn.usage is not None:
                    body += f"\n\n> usage {compact(turn.usage)}"
                    if turn.cost is not None and turn.cost.amount is not None:
                        body += f", {turn.cost.figure()}"
            lines.append(body)
            lines.append("")
        lines += [f"{note}  " for note in footnotes(turn.citations)]
        if turn.citations:
            lines.append("")
    # The turns hold displayable text already; the conversation id is the wire's.
    return displayable("\n".join(lines).rstrip() + "\n")
