"""Measuring one command for the benchmarks: wall time, CPU time of its whole process tree,
and peak memory as the sampled sum of the proportional set sizes (PSS) of its process group,
so a build that fans out to worker processes is charged for all of them, and pages they share
copy-on-write once. Only the standard library."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    pass


@dataclass
class Run:
    label: str
    wall: float  # seconds
    cpu: float  # user + sys seconds, child process tree
    rss_mib: float  # peak memory, MiB (see module docstring)
    files: int | None = None  # files in the output folder afterwards, as a sanity check

    def ratio(self, other: Run, attr: str) -> float:
        mine, theirs = getattr(self, attr), getattr(other, attr)
        return theirs / mine if mine else float("inf")


def _group_rss_kib(pgid: int) -> int:
    """Memory of a process group: the sum of each process's proportional set size (Linux /proc).

    PSS, not RSS: forked build workers share the parent's pages copy-on-write, and summing
    their RSS would count every shared page once per process. PSS splits a shared page among
    the processes that map it, so the sum is what the group really occupies."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) != pgid:  # fields[2] is the process group
                continue
            with open(f"/proc/{name}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return total


def measure(cmd: list[str], label: str, *, cwd: Path | None = None, log: Path | None = None,
            env: dict[str, str] | None = None) -> Run:
    """Run cmd as its own process group; return its wall, CPU and peak-memory figures.

    Raises BenchError, with the end of the command's output, if it exits non-zero."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        if log:
            out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
            out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        peak_kib, stop = [0], threading.Event()

        def sample() -> None:
            # Every 20 ms, or less often when a sample itself takes long: reading the PSS of
            # a gigabyte process walks its page tables, and sampling that every 20 ms took a
            # fifth of a core from the 2-core build it measured (8.1 s against 6.8 s).
            pause = 0.02
            while not stop.wait(pause):
                began = time.perf_counter()
                peak_kib[0] = max(peak_kib[0], _group_rss_kib(proc.pid))
                pause = max(0.02, 9 * (time.perf_counter() - began))  # at most 10% of a core

        sampler = threading.Thread(target=sample, daemon=True)
        if os.path.isdir("/proc"):
            sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            os.killpg(proc.pid, 9)
            raise
        wall = time.perf_counter() - start
        stop.set()
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
    finally:
        if log:
            out.close()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:] if log else []
        raise BenchError(f"{label}: `{' '.join(map(str, cmd))}` exited {proc.returncode}\n    "
                         + "\n    ".join(tail))
    max_rss_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    # The group's sampled PSS; a one-process tool that outran the sampler falls back to its
    # own max RSS (which, for a single process, PSS never exceeds).
    return Run(label, wall, usage.ru_utime + usage.ru_stime,
               (peak_kib[0] or max_rss_kib) / 1024)


def median_run(runs: list[Run], label: str) -> Run:
    """One row for repeated runs of a command: the median wall time, beside the CPU time and
    memory of the fastest run (a single run of a sub-second command is mostly noise)."""
    best = min(runs, key=lambda r: r.wall)
    return Run(f"{label} (median of {len(runs)})", statistics.median(r.wall for r in runs),
               best.cpu, best.rss_mib, best.files)
