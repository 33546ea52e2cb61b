"""The memory section's probe: the dashboard in this process, busy, with a census.

Runs ``voicelive-tui --demo`` (the embedded emulator and the scripted user) in Textual's
headless driver at 160x48, types a message every few seconds as a user would (``t``,
the text, Enter), and every ``--interval`` seconds prints one JSON line: seconds since
ready, RSS in MiB, and the live objects counted by type (``gc.get_objects``). Run by
``run.py`` as a child process so that the RSS is the app's alone.

With ``--endpoint URL --api-key KEY`` it talks to an emulator in another process
(``voicelive-emulator``) instead, text only (``--no-audio``): the embedded emulator keeps
every reply's audio in this process, so only this way is the RSS the client's alone.

Usage: ``python benchmarks/memory_probe.py --seconds 120 --interval 30 --log-dir DIR
[--endpoint URL --api-key KEY]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from textual import events

from voicelive_tui.cli import load_settings
from voicelive_tui.conversation.reducer import ConnectionState
from voicelive_tui.ui.app import VoiceLiveApp

TYPE_EVERY_S = 4.0
KEY_NAMES = {" ": "space", ",": "comma", "enter": "enter"}
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def census() -> dict[str, int]:
    counts = Counter(type(o).__qualname__ for o in gc.get_objects())
    return dict(counts)


async def busy(seconds: float, interval: float, log_dir: str, server: list[str]) -> None:
    settings = load_settings([*(server or ["--demo"]), "--log-dir", log_dir])
    app = VoiceLiveApp(settings)
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 30
        while not (
            app.session is not None and app.session.conversation.connection == ConnectionState.READY
        ):
            if time.monotonic() > deadline:
                raise SystemExit("memory_probe: the dashboard did not get ready in 30 s")
            await asyncio.sleep(0.1)
        start = time.monotonic()
        next_sample = start
        turn = 0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                line = {"t": round(now - start, 1), "rss": rss_mib(), "turns": turn}
                line["replies"] = sum(t.role == "agent" for t in app.session.conversation.turns)
                line["objects"] = census()
                print(json.dumps(line), flush=True)
                next_sample += interval
                if now - start >= seconds:
                    break
            turn += 1
            await type_keys(app, ["t"])
            await wait_for(lambda: app.focused is app.message_input, "the message input to open")
            await type_keys(app, [*f"message number {turn}, please answer", "enter"])
            await wait_for(lambda: app.focused is not app.message_input, "the message to be sent")
            await asyncio.sleep(max(0.0, TYPE_EVERY_S - (time.monotonic() - now)))
        await pilot.press("q")


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for ``condition``: a key typed before the input opens would be a command to
    the dashboard (``m`` mutes, ``u`` opens a screen) and every later turn would be lost."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"memory_probe: waited {timeout:g} s for {what}")
        await asyncio.sleep(0.02)


async def type_keys(app: VoiceLiveApp, keys: list[str]) -> None:
    """Key presses as the driver sends them, paced like fast typing. (Pilot.press waits
    for the screen to be idle, which a busy dashboard never is.)"""
    driver = app._driver
    assert driver is not None
    for key in keys:
        name = KEY_NAMES.get(key, key)
        event = events.Key(name, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)
        await asyncio.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--endpoint", help="an emulator in another process (text only)")
    parser.add_argument("--api-key", help="its key (with --endpoint)")
    args = parser.parse_args()
    server = []
    if args.endpoint:
        server = ["--endpoint", args.endpoint, "--api-key", args.api_key or "", "--no-audio"]
    asyncio.run(busy(args.seconds, args.interval, args.log_dir, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
