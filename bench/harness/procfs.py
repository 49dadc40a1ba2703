"""What /proc says about processes and the machine: memory, CPU time, descendants, CPU pressure."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path


def status_mib(pid: int | str, field: str) -> float:
    """Return a ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM) in MiB, NaN if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB, NaN once it is gone."""
    return status_mib(pid, "VmRSS")


def descendants(pid: int) -> list[int]:
    """Return the process ids of every descendant of ``pid`` (uvicorn's worker processes)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """Return the CPU time (user + system) the processes have used so far; gone ones count 0."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks


def cpu_pressure() -> float:
    """Share of the last 60 s in which some runnable task waited for a CPU (PSI), NaN if unavailable."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return float(line.split()[2].split("=")[1]) / 100
    except (OSError, IndexError, ValueError):
        pass
    return math.nan


def _stat_fields(stat: str) -> tuple[str, list[str]]:
    """``(comm, fields after comm)`` of a ``/proc/<pid>/stat`` text."""
    return stat[stat.find("(") + 1 : stat.rfind(")")], stat.rsplit(")", 1)[1].split()


def cpu_by_comm(name: str, database: str | None = None) -> float:
    """CPU seconds used so far by the processes called ``name`` (``postgres``, ``redis-server``).

    For PostgreSQL, backends serving another database are left out, and the CPU of backends that
    have exited (reaped by the postmaster: its children's time) is included.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, fields = _stat_fields(stat_path.read_text())
            if comm != name:
                continue
            title = (stat_path.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent_comm, _ = _stat_fields(Path(f"/proc/{fields[1]}/stat").read_text())
        except (OSError, IndexError):
            continue
        is_backend = "127.0.0.1(" in title or "[local]" in title
        if database is not None and is_backend and f" {database} " not in title:
            continue
        total += int(fields[11]) + int(fields[12])
        if parent_comm != name:  # the postmaster (or redis itself): add its reaped children's CPU
            total += int(fields[13]) + int(fields[14])
    return total / ticks
