"""The soak (its test runs last): accelerated conversation against the emulator for 40 s,
started in the background as the run begins (see ``background_soak`` in
tests/conftest.py); RSS, file descriptors, tasks and threads stay flat and both panels
stay within their bounds. ``VOICELIVE_SOAK_MINUTES=30`` runs the long form."""

from __future__ import annotations

import json

from tests.conftest import SoakRun
from tests.helpers import wait_until


async def test_soak_stays_flat(background_soak: SoakRun | None) -> None:
    run = background_soak
    assert run is not None
    deadline = run.seconds + 90
    await wait_until(run.exit_status.exists, deadline, "the end of the soak", poll=0.2)
    stderr = run.stderr.read_text()[-3000:] if run.stderr.exists() else ""
    assert run.report.exists(), stderr
    report = json.loads(run.report.read_text())
    assert report["problems"] == [], report["problems"]
    assert report["samples"][-1]["at"] >= run.seconds * 0.9
    assert report["answered"] >= 2 * report["cycles"] - 2
    assert max(s["panel"] for s in report["samples"]) == report["panel_max"]  # it filled up
    assert run.exit_status.read_text() == "0", stderr
