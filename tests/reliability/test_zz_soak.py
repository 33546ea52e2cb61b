"""The soak (named to run last): a minute of accelerated conversation against the
emulator, started in the background with the first test (see ``background_soak`` in
tests/conftest.py); RSS, file descriptors, tasks and threads stay flat and both panels
stay within their bounds. ``VOICELIVE_SOAK_MINUTES=30`` runs the long form."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import SoakRun


async def test_soak_stays_flat(background_soak: SoakRun | None) -> None:
    run = background_soak
    assert run is not None
    deadline = run.seconds + 90
    try:
        await asyncio.wait_for(asyncio.to_thread(run.proc.wait), deadline)
    except asyncio.TimeoutError:
        pytest.fail(f"the soak did not end within {deadline} s")
    assert run.report.exists(), (run.report.parent / "stderr.txt").read_text()[-3000:]
    report = json.loads(run.report.read_text())
    assert report["problems"] == [], report["problems"]
    assert report["samples"][-1]["at"] >= run.seconds * 0.9
    assert report["answered"] >= 2 * report["cycles"] - 2
    assert max(s["panel"] for s in report["samples"]) == report["panel_max"]  # it filled up
