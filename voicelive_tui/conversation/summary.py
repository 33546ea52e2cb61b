"""The ``--summary-json`` document: latency, usage and the cost estimate of a session.

Pure: a conversation in, a JSON-ready dict out. Scripts read this file, so its shape is
versioned (:data:`SUMMARY_VERSION`) and documented field by field in the README; a field
is only ever added within a version.
"""

from __future__ import annotations

from typing import Any

from voicelive_tui.conversation.latency import LatencyLog
from voicelive_tui.conversation.reducer import Conversation
from voicelive_tui.protocol import pcm_ms

SUMMARY_VERSION = 1


def usage_summary(conv: Conversation) -> dict[str, Any]:
    """Tokens per response, per agent turn and for the session, and audio tokens per second."""
    ledger = conv.usage
    per_in, per_out = ledger.per_second(pcm_ms(conv.audio_in_bytes), pcm_ms(conv.audio_out_bytes))
    return {
        "total": ledger.total.as_json(),
        "responses": [
            {
                "response_id": r.response_id,
                "item_id": r.item_id,
                "status": r.status,
                **r.usage.as_json(),
            }
            for r in ledger.responses
        ],
        "turns": [
            {"item_id": t.item_id, "response_id": t.response_id, **t.usage.as_json()}
            for t in conv.turns
            if t.role == "agent" and t.usage is not None
        ],
        "audio_in_s": round(pcm_ms(conv.audio_in_bytes) / 1000, 3),
        "audio_out_s": round(pcm_ms(conv.audio_out_bytes) / 1000, 3),
        "audio_tokens_per_s": {
            "input": None if per_in is None else round(per_in, 2),
            "output": None if per_out is None else round(per_out, 2),
        },
    }


def _amount(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def cost_summary(conv: Conversation, budget: float | None = None) -> dict[str, Any] | None:
    """The cost estimate: the table it used, the session's figure and each response's
    (None: no price table; ``total`` None: the model's tier is unknown)."""
    prices, total = conv.usage.prices, conv.cost()
    if prices is None or total is None:
        return None
    responses = []
    for r in conv.usage.responses:
        cost = conv.cost(r.usage)
        responses.append(
            {"response_id": r.response_id, "amount": _amount(cost.amount if cost else None)}
        )
    return {
        "estimate": True,
        "currency": prices.currency,
        "model": total.model,
        "tier": total.tier,
        "total": _amount(total.amount),
        "responses": responses,
        "budget": budget,
        "prices": {
            "date": prices.date,
            "source": prices.source,
            "placeholder": prices.placeholder,
            "per_tokens": prices.per_tokens,
        },
    }


def _ms(start: float, end: float | None, less_ms: float = 0.0) -> float | None:
    """The span from ``start`` to ``end`` in ms, less ``less_ms`` (None: not ended)."""
    return None if end is None else round((end - start) * 1000 - less_ms, 1)


def tool_spans(conv: Conversation) -> list[dict[str, Any]]:
    """Every tool call, MCP call and search: from the call to its output and to the
    agent's next audio, and the wait for the user's approval apart (not in either)."""
    out = []
    for turn in conv.turns:
        approvals = [e for e in turn.activity if e.kind == "approval"]
        for entry in turn.activity:
            if entry.kind == "approval":
                continue
            waited = sum(
                (a.duration_ms or 0.0)
                for a in approvals
                if a.title == entry.title and a.started_at >= entry.started_at
            )
            out.append(
                {
                    "kind": entry.kind,
                    "title": entry.title,
                    "status": entry.status,
                    "call_to_output_ms": _ms(entry.started_at, entry.ended_at, waited),
                    "call_to_next_audio_ms": _ms(entry.started_at, entry.next_audio_at, waited),
                    "approval_wait_ms": round(waited, 1),
                }
            )
    return out


def session_summary(conv: Conversation, budget: float | None = None) -> dict[str, Any]:
    """Everything ``--summary-json`` writes (see the README's table)."""
    summary: dict[str, Any] = {"version": SUMMARY_VERSION}
    summary.update(LatencyLog(conv.latencies).summary())
    summary["session_id"] = conv.session.id
    summary["model"] = conv.session.model
    summary["rtt_ms"] = conv.rtt_ms
    summary["usage"] = usage_summary(conv)
    summary["cost"] = cost_summary(conv, budget)
    summary["tools"] = tool_spans(conv)
    summary["renewals"] = [{"gap_ms": round(r.gap_ms, 1), "kept": r.kept} for r in conv.renewals]
    summary["echo"] = {
        "reference": conv.echo.reference,
        "self_interruptions": conv.echo.suspected,
        "suspects": list(conv.echo.suspects),
    }
    return summary
