"""Regenerate screenshots/*.svg from the deterministic scripted session.

    python scripts/screenshots.py            # writes screenshots/*.svg
    python scripts/screenshots.py --show     # run the scripted session in this terminal

The screens come from :class:`tests.scaffold.replay.ReplaySession` on a frozen clock
(the tool screens from the scripted tool session of ``tests/ui/tool_replay.py``), so
running this twice gives the same files.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripted sessions are test scaffolding, under tests/

from tests.scaffold.replay import scripted_app, settle, show_latency, show_usage  # noqa: E402
from tests.ui.test_device_screen import ScriptedDevices, open_screen  # noqa: E402
from tests.ui.test_timeline import replay_app, show_timeline  # noqa: E402
from tests.ui.test_tool_snapshots import prompt_open  # noqa: E402
from tests.ui.tool_replay import tool_replay_app  # noqa: E402

OUT = ROOT / "screenshots"


async def open_json(pilot: Pilot[int]) -> None:
    """Select the session.created line and open its JSON view."""
    await settle(pilot)
    app = pilot.app
    app.event_log.focus()  # type: ignore[attr-defined]
    await pilot.press("home", "down", "enter")
    await pilot.pause()
    assert type(app.screen).__name__ == "JsonScreen", app.screen


async def open_help(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


async def open_devices(pilot: Pilot[int]) -> None:
    """The device screen over the scripted session, with a scripted device list."""
    await settle(pilot)
    await open_screen(pilot, ScriptedDevices())


SHOTS: dict[str, tuple[tuple[int, int], Callable[[Pilot[int]], Awaitable[None]]]] = {
    "main": ((140, 40), settle),
    "event-json": ((140, 40), open_json),
    "help": ((140, 40), open_help),
    "narrow-80x24": ((80, 24), settle),
    "latency": ((100, 30), show_latency),
    "usage": ((100, 30), show_usage),
    "tools-approval": ((140, 40), prompt_open),
    "devices": ((120, 36), open_devices),
    "timeline": ((160, 48), show_timeline),
    "timeline-80x24": ((80, 24), show_timeline),
}
TOOL_SHOTS = {"tools-approval"}
"""Shots of the scripted tool session (a function call, an MCP approval prompt)."""
TURN_SHOTS = {"timeline", "timeline-80x24"}
"""Shots of the recorded turn-taking session (``tests/ui/data/turns_events.jsonl``)."""


async def take(
    name: str, size: tuple[int, int], before: Callable[[Pilot[int]], Awaitable[None]]
) -> str:
    with tempfile.TemporaryDirectory() as logs:
        if name in TOOL_SHOTS:
            app = tool_replay_app(Path(logs))
        elif name in TURN_SHOTS:
            app = replay_app(Path(logs))
        else:
            app = scripted_app(Path(logs))
        async with app.run_test(size=size) as pilot:
            await before(pilot)
            svg = app.export_screenshot(title=f"voicelive-tui: {name}")
            await pilot.press("q")
        return svg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="run the scripted session here")
    args = parser.parse_args(argv)
    if args.show:
        with tempfile.TemporaryDirectory() as logs:
            return scripted_app(Path(logs)).run() or 0
    OUT.mkdir(exist_ok=True)
    for name, (size, before) in SHOTS.items():
        svg = asyncio.run(take(name, size, before))
        (OUT / f"{name}.svg").write_text(svg, encoding="utf-8")
        print(f"wrote screenshots/{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
