"""Where a process's CPU goes, thread by thread (Linux ``/proc``): CPU % of one core and
context switches a second per thread over a window, each thread named by its role.

A role is, in this order: the main thread (``loop``: every client measured here runs its
event loop there); a thread whose kernel name differs from the process's (libpulse's
``threaded-ml``, the mainloop of each PulseAudio stream behind ALSA's pulse plugin); a
Python thread, by its ``threading`` name (read with ``py-spy dump``, which names threads
by their native id; Python 3.11 does not give threads a kernel name); and a thread with no
Python name that waits in ``poll``/``ppoll``, which is PortAudio's callback thread (its
ALSA host API polls the PCM's descriptors between blocks; Python threads wait in
``futex``, event loops in ``epoll_wait``). Anything else is ``other``.

CPU time is the scheduler's own count (``/proc/PID/task/TID/schedstat``, nanoseconds), not
clock ticks: a tick is 0.1 % of a core over 10 s, as much as a quiet thread's whole use.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POLL_SYSCALLS = {"x86_64": {7, 271}, "aarch64": {73}}
"""poll and ppoll by machine (aarch64 has ppoll only)."""
LOOP = "loop"
CALLBACK = "PortAudio callback"
OTHER = "other"


@dataclass(frozen=True)
class ThreadCount:
    name: str  # the kernel's (comm)
    run_ns: int
    switches: int  # voluntary + involuntary
    involuntary: int  # preempted (the rest: the thread went to sleep itself)


def snapshot(pid: int) -> dict[int, ThreadCount]:
    """Every thread of ``pid`` now: run time and context switches so far."""
    out: dict[int, ThreadCount] = {}
    for entry in os.scandir(f"/proc/{pid}/task"):
        try:
            base = Path(entry.path)
            run_ns = int((base / "schedstat").read_text().split()[0])
            counts = {}
            for line in (base / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    name, value = line.split(":")
                    counts[name] = int(value)
            comm = (base / "comm").read_text().strip()
            involuntary = counts["nonvoluntary_ctxt_switches"]
            total = counts["voluntary_ctxt_switches"] + involuntary
            out[int(entry.name)] = ThreadCount(comm, run_ns, total, involuntary)
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue  # the thread ended meanwhile
    return out


def python_names(pid: int) -> dict[int, str]:
    """Native thread id -> ``threading`` name, from ``py-spy dump`` (empty without py-spy)."""
    beside = Path(sys.executable).with_name("py-spy")
    tool = str(beside) if beside.exists() else shutil.which("py-spy")
    if tool is None:
        return {}
    try:
        dump = subprocess.run(
            [tool, "dump", "-p", str(pid), "--nonblocking"],
            capture_output=True, text=True, timeout=20, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {
        int(tid): name
        for tid, name in re.findall(r'^Thread (\d+) \([^)]*\): "([^"]*)"', dump, re.M)
    }


def waits_in_poll(pid: int, tid: int, tries: int = 5) -> bool:
    """Whether the thread is blocked in poll/ppoll (read a few times: a running thread has
    no system call to show)."""
    polls = POLL_SYSCALLS.get(platform.machine(), set())
    for _ in range(tries):
        try:
            first = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()[0]
        except (OSError, IndexError):
            return False
        if first.lstrip("-").isdigit():
            return int(first) in polls
        time.sleep(0.002)
    return False


def roles(pid: int, tids: dict[int, ThreadCount]) -> dict[int, str]:
    """The role of each thread (see the module docstring)."""
    names = python_names(pid)
    main = tids[pid].name if pid in tids else None
    out: dict[int, str] = {}
    for tid, count in tids.items():
        if tid == pid:
            out[tid] = LOOP
        elif count.name != main:
            out[tid] = count.name
        elif names.get(tid) and not names[tid].startswith("Dummy-"):
            out[tid] = names[tid]
        elif waits_in_poll(pid, tid):
            out[tid] = CALLBACK
        else:
            out[tid] = OTHER
    return out


@dataclass(frozen=True)
class RoleUse:
    threads: int
    cpu: float  # % of one core
    switches: float  # a second
    involuntary: float  # of those, a second


class Window:
    """A thread snapshot now; :meth:`result` gives each role's use since then."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.start = snapshot(pid)

    def result(self) -> dict[str, RoleUse]:
        end = snapshot(self.pid)
        elapsed = time.monotonic() - self.t0
        named = roles(self.pid, end)
        out: dict[str, RoleUse] = {}
        for tid, count in end.items():
            before = self.start.get(tid, ThreadCount(count.name, 0, 0, 0))
            role = named[tid]
            prior = out.get(role, RoleUse(0, 0.0, 0.0, 0.0))
            out[role] = RoleUse(
                prior.threads + 1,
                prior.cpu + (count.run_ns - before.run_ns) / 1e9 / elapsed * 100,
                prior.switches + (count.switches - before.switches) / elapsed,
                prior.involuntary + (count.involuntary - before.involuntary) / elapsed,
            )
        return out
