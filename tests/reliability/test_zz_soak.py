"""The soak: accelerated conversation against the emulator for 40 s, in its own process
(``tests/reliability/soak.py``); RSS, file descriptors, tasks and threads stay flat and
both panels stay within their bounds. ``VOICELIVE_SOAK_MINUTES=30`` runs the long form.

Slow (``-m slow``, the second step of ``.ci/run``): it takes the soak's 40 s of a core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import child_env, wait_until


def soak_seconds() -> float:
    """40 s by default; ``VOICELIVE_SOAK_MINUTES=30`` for the long form."""
    minutes = os.environ.get("VOICELIVE_SOAK_MINUTES")
    return float(minutes) * 60 if minutes else 40.0


@dataclass
class SoakRun:
    """The soak (tests/reliability/soak.py) in its own process, writing into ``folder``:
    its report, its logs, its stderr, and its exit status once it ended (``exit``)."""

    folder: Path
    seconds: float
    proc: subprocess.Popen[bytes] | None = None

    @property
    def report(self) -> Path:
        return self.folder / "report.json"

    @property
    def exit_status(self) -> Path:
        return self.folder / "exit"

    @property
    def stderr(self) -> Path:
        return self.folder / "stderr.txt"

    def start(self) -> None:
        argv = ["--seconds", str(self.seconds), "--report", str(self.report)]
        argv += ["--log-dir", str(self.folder / "logs")]
        with open(self.stderr, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.soak", *argv],
                cwd=self.folder,
                env=child_env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        threading.Thread(target=self._reap, args=(self.proc,), daemon=True).start()

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        part = self.exit_status.with_suffix(".part")
        part.write_text(str(code))
        part.replace(self.exit_status)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.slow
@pytest.mark.timeout(soak_seconds() + 120)
async def test_soak_stays_flat(tmp_path: Path) -> None:
    run = SoakRun(tmp_path, soak_seconds())
    run.start()
    try:
        deadline = run.seconds + 90
        await wait_until(run.exit_status.exists, deadline, "the end of the soak", poll=0.2)
    finally:
        run.stop()
    stderr = run.stderr.read_text()[-3000:] if run.stderr.exists() else ""
    assert run.report.exists(), stderr
    report = json.loads(run.report.read_text())
    assert report["problems"] == [], report["problems"]
    assert report["samples"][-1]["at"] >= run.seconds * 0.9
    assert report["answered"] >= 2 * report["cycles"] - 2
    assert max(s["panel"] for s in report["samples"]) == report["panel_max"]  # it filled up
    assert run.exit_status.read_text() == "0", stderr
