"""A server that streams transcript deltas as fast as the client reads them (issue 18):
the user stays in control (q, Ctrl+C and signals quit while the flood still runs, a key
shows its effect), the events log sums the flood up instead of growing with it, and the
conversation log still gets the exact transcript.

Keys and quits are waited for with generous time-outs and checked against the flood (it
has not ended yet), not timed: how fast they are (the goal: 2 s) is measured by
``benchmarks/flood.py``, which a loaded machine cannot fail."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.reliability.badserver import FLOOD_ITEM, bad_server, flood_transcript
from tests.reliability.harness import Console, Terminal, client_args, read_logs, received_types
from voicelive_tui.logs import DELTAS_PER_S

QUIT_TIMEOUT_S = 30.0
KEY_TIMEOUT_S = 20.0
"""Generous bounds on a quit and a key's effect under the flood (the benchmark times them)."""
HELP_TEXT = "shows a Voice Live conversation"
STREAMING = "response.audio_transcript.delta"


def events_log(log_dir: Path) -> Path:
    (path,) = log_dir.glob("*_events.jsonl")
    return path


def streaming(log_dir: Path) -> bool:
    """The flood has reached the events log (its first lines are whole events)."""
    paths = list(log_dir.glob("*_events.jsonl"))
    if not paths:
        return False
    with paths[0].open("rb") as f:
        return STREAMING.encode() in f.read(1 << 20)


@pytest.mark.parametrize("key", ["q", "\x03"], ids=["q", "ctrl+c"])
async def test_dashboard_answers_keys_and_quits_under_a_flood(tmp_path: Path, key: str) -> None:
    async with bad_server("flood") as srv:
        term = await Terminal.start(*client_args(srv.endpoint, tmp_path, "--no-audio"))
        try:
            await wait_until(lambda: streaming(tmp_path), 20.0, "the flood to start")
            seen = len(term.output)
            term.send("?")
            await wait_until(
                lambda: HELP_TEXT.encode() in term.output[seen:],
                KEY_TIMEOUT_S,
                "the help screen under the flood",
            )
            assert not srv.flood_done.is_set(), "the flood ended before the key: no test"
            term.send("?")  # closes the help
            term.send(key)
            code = await term.wait(QUIT_TIMEOUT_S)
            assert not srv.flood_done.is_set(), "the quit waited for the flood to end"
        finally:
            term.kill()
    assert code == 0
    assert term.restored()


async def test_console_quits_on_ctrl_c_under_a_flood(tmp_path: Path) -> None:
    async with bad_server("flood") as srv:
        console = await Console.start(*client_args(srv.endpoint, tmp_path, "--no-audio"))
        try:
            await wait_until(lambda: streaming(tmp_path), 20.0, "the flood to start")
            console.signal(signal.SIGINT)
            code = await console.wait(QUIT_TIMEOUT_S)
            assert not srv.flood_done.is_set(), "the quit waited for the flood to end"
        finally:
            await console.kill()
    assert code == 0, console.err
    assert "Goodbye" in console.out


# Slow: 30,000 deltas to the end; the keys-under-flood tests stay in the fast run.
@pytest.mark.slow
async def test_a_whole_flood_keeps_the_transcript_exact_and_the_events_log_small(
    tmp_path: Path,
) -> None:
    deltas = 30_000
    async with bad_server("flood", deltas=deltas) as srv:
        term = await Terminal.start(*client_args(srv.endpoint, tmp_path, "--no-audio"))
        try:
            await wait_until(srv.flood_done.is_set, 60.0, "the client to read the whole flood")
            await wait_until(
                lambda: "response.done" in received_types(tmp_path), 20.0, "the reply's end"
            )
            await term.wait_output(f"w{deltas - 1} ")  # the reply's end is on screen
            term.send("q")
            assert await term.wait(QUIT_TIMEOUT_S) == 0
        finally:
            term.kill()
    conversation = read_logs(tmp_path)["conversation.log"]
    agent = [line for line in conversation.splitlines() if line.startswith("Agent ")]
    assert agent == [f"Agent Audio Response:\t{flood_transcript(deltas)}"]
    # Every delta is in the events log, whole or counted in a run; at most DELTAS_PER_S
    # a second are whole, however fast the flood (about 6 MB when all of them are).
    whole, counted, runs, seconds = 0, 0, 0, set()
    for line in events_log(tmp_path).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if (entry.get("event") or {}).get("type") == STREAMING:
            assert entry["event"]["item_id"] == FLOOD_ITEM
            whole += 1
            seconds.add(entry["time"][:19])
        elif entry.get("coalesced", {}).get("type") == STREAMING:
            run = entry["coalesced"]
            assert run["first"] <= run["last"]
            counted += run["count"]
            runs += 1
            seconds.add(run["first"][:19])
    assert whole + counted == deltas
    assert counted > 0
    assert whole <= DELTAS_PER_S * len(seconds), (whole, len(seconds))
    assert runs <= len(seconds)  # one line a second for the rest


async def test_a_30_mb_frame_drops_the_connection_and_says_so_on_screen(tmp_path: Path) -> None:
    async with bad_server("huge") as srv:
        term = await Terminal.start(*client_args(srv.endpoint, tmp_path, "--no-audio"))
        try:
            await term.wait_plain("a message over the client's 4 MB limit", timeout=30.0)
            assert srv.handshakes >= 1
            term.send("q")
            assert await term.wait(QUIT_TIMEOUT_S) == 0
        finally:
            term.kill()
    log = read_logs(tmp_path)["conversation.log"]
    assert "Connection lost:\tthe server sent a message over the client's 4 MB limit" in log
