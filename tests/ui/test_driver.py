"""The dashboard's terminal writer (ui/driver.py) on a real pipe whose reader stalls."""

from __future__ import annotations

import os
import threading
import time

from voicelive_tui.ui import driver
from voicelive_tui.ui.driver import FrameDroppingWriter

FRAME = "x" * 8192


def drain(fd: int, into: bytearray, until: threading.Event) -> None:
    os.set_blocking(fd, False)
    while not until.is_set():
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.005)
            continue
        if not chunk:
            return
        into += chunk


def test_writes_never_wait_for_a_stalled_reader_and_resume_with_one_repaint(
    monkeypatch,
) -> None:
    monkeypatch.setattr(driver, "STALL_AFTER_S", 0.2)
    read_fd, write_fd = os.pipe()
    resumed = threading.Event()
    out = os.fdopen(write_fd, "w", encoding="utf-8")
    writer = FrameDroppingWriter(out, resumed.set)
    writer.start()
    # Nobody reads: the pipe (64 kB) fills, the thread blocks in write. Every write()
    # here returns anyway; the thread itself would otherwise hang this test.
    deadline = time.monotonic() + 10
    while writer.stalls == 0:
        writer.write(FRAME)
        assert time.monotonic() < deadline, "the writer never noticed the stall"
        time.sleep(0.01)
    for _ in range(200):  # a stalled terminal: every frame is dropped, none is held
        writer.write(FRAME)
    assert writer.dropped_writes >= 200
    assert not resumed.is_set()
    got, done = bytearray(), threading.Event()
    reader = threading.Thread(target=drain, args=(read_fd, got, done))
    reader.start()
    assert resumed.wait(10), "no repaint was asked for when the reader came back"
    writer.write("repaint")
    writer.stop()  # the restore sequences: written before the thread ends
    out.close()
    reader.join(10)
    done.set()
    os.close(read_fd)
    assert got.endswith(b"repaint")
    assert writer.stalls == 1
    assert len(got) < 64 * 1024 + 2 * len(FRAME) + 10, "held frames were written late"


def test_quitting_writes_the_restore_sequences_even_after_a_stall(monkeypatch) -> None:
    monkeypatch.setattr(driver, "STALL_AFTER_S", 0.1)
    read_fd, write_fd = os.pipe()
    out = os.fdopen(write_fd, "w", encoding="utf-8")
    writer = FrameDroppingWriter(out, lambda: None)
    writer.start()
    deadline = time.monotonic() + 10
    while writer.stalls == 0:  # nobody reads: stall
        writer.write(FRAME)
        assert time.monotonic() < deadline, "the writer never noticed the stall"
        time.sleep(0.01)
    writer.closing()  # what the driver does before it restores the terminal
    writer.write("\x1b[?1049l")
    got, done = bytearray(), threading.Event()
    reader = threading.Thread(target=drain, args=(read_fd, got, done))
    reader.start()
    writer.stop()
    out.close()
    reader.join(10)
    os.close(read_fd)
    assert got.endswith(b"\x1b[?1049l")
