"""The benchmark harness keeps working: one smoke pass of its cheapest sections.

Figures are not checked (timings are report figures, not test assertions); what is
checked is that each section measured something and that --write keeps one block per
label and section.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import child_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_smoke_run_measures_startup_and_barge_in() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--smoke", "--only", "startup",
         "--only", "barge_in"],
        capture_output=True, text=True, timeout=60, check=False, env=child_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # The dashboard came up on the pseudo-terminal and its ready state was seen.
    assert re.search(r"\| dashboard: ready on screen \| \d+\.\d\d \|", done.stdout), done.stdout
    assert re.search(r"\| console: ready banner \(baseline\) \| \d+\.\d\d \|", done.stdout)
    # The seed's playback keeps stale audio after a bump with 1 s deltas; ours does not.
    # (Columns: delta and queue, playback, samples dropped while queueing, stale mean / max.)
    assert re.search(r"\| 1000 ms, 10 s \| seed [^|]+\| \d+ \| [1-9]\d* / \d+ \|", done.stdout)
    ours = r"\| 1000 ms, 10 s \| ours \(PlaybackRing\.read_into\) \| 0 \| 0 / 0 \|"
    assert re.search(ours, done.stdout), done.stdout


def test_write_replaces_a_labels_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from common import Section
    from run import write_results

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nNotes kept by hand.\n")
    first = Section("startup", "Start-up", ["what", "s"], [["ready", "1.00"]])
    write_results("before", "## before\n", [first], results)
    write_results("after", "## after\n", [first], results)
    again = Section("startup", "Start-up", ["what", "s"], [["ready", "0.50"]])
    write_results("before", "## before, again\n", [again], results)
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nNotes kept by hand.\n")
    assert text.count("<!-- before:startup -->") == 1
    assert "| ready | 0.50 |" in text and "| ready | 1.00 |" in text  # after's is kept
    assert text.index("## before, again") < text.index("## after")


@pytest.mark.slow
@pytest.mark.realaudio
def test_send_path_measures_every_client_on_null_sinks() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "send_path.py"), "--rounds", "1", "--quiet", "1",
         "--speech", "1"],
        capture_output=True, text=True, timeout=180, check=False, env=child_env(),
    )  # fmt: skip
    if "Skipped" in done.stdout or "PulseAudio" in done.stderr[-300:]:
        pytest.skip(done.stderr[-300:] or done.stdout[-300:])
    assert done.returncode == 0, done.stderr[-2000:]
    for client in ("console", "dashboard"):
        assert re.search(rf"\| {client} \| \d+\.\d \| \d+\.\d \|", done.stdout), done.stdout
