"""What each side of a benchmark spent: cores busy, on average, while a figure was measured.

A figure is limited by something; these readings say what, measured rather than supposed: the
product's process keeping one core busy (Python, one interpreter lock), the database and the
broker busy (the rest of the machine), the machine's cores all busy, or none of them (waiting on
round trips and commits). Read from ``/proc``; steal (time the VM did not get) is excluded.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
#: Above this share of a core, a process is taken as the one holding the figure back.
BUSY = 0.85


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process (all its threads) and of its live children (the
    server's worker processes), from ``/proc/<pid>/stat``."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended while the list was read
        if stat.parent.name == str(pid) or after_name[1] == str(pid):  # itself, or its child
            total += (int(after_name[11]) + int(after_name[12])) / _TICK  # utime, stime
    return total


def _machine_cpu_seconds() -> float:
    """CPU every core spent busy, from ``/proc/stat``; steal (time the VM did not get) excluded."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    return (user + nice + system + irq + softirq) / _TICK


@dataclass(frozen=True)
class _CpuMark:
    at: float
    bench: float
    server: float
    machine: float


class CpuMeter:
    """Cores busy, on average, between two marks: this process (the clients, or the clients and
    the application in process), the server process, and the rest of the machine (PostgreSQL)."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid

    def mark(self) -> _CpuMark:
        return _CpuMark(
            at=time.perf_counter(),
            bench=time.process_time(),
            server=_process_cpu_seconds(self.server_pid) if self.server_pid else 0.0,
            machine=_machine_cpu_seconds(),
        )

    def since(self, start: _CpuMark) -> dict[str, float]:
        end = self.mark()
        elapsed = end.at - start.at
        bench = end.bench - start.bench
        server = end.server - start.server
        rest = max(0.0, (end.machine - start.machine) - bench - server)
        cores = {"bench_process": bench / elapsed}
        if self.server_pid:
            cores["server_process"] = server / elapsed
        cores["rest_of_machine"] = rest / elapsed
        return {name: round(value, 2) for name, value in cores.items()}


def limiter(cores: dict[str, float], product: str = "bench_process") -> str:
    """What held a figure back, from the cores each side kept busy (``CpuMeter.since``);
    ``product`` names the side that is the product (the server process over HTTP)."""
    machine = os.cpu_count() or 1
    mine = cores.get(product, 0.0)
    rest = cores.get("rest_of_machine", 0.0)
    parts = ", ".join(f"{name.replace('_', ' ')} {value:.2f}" for name, value in cores.items())
    if mine >= BUSY:
        return f"Python: the product's process kept a core busy ({parts} cores)"
    if sum(cores.values()) >= BUSY * machine:
        return f"the machine's {machine} cores, all busy ({parts} cores)"
    if rest >= BUSY:
        return f"PostgreSQL and the broker ({parts} cores)"
    return f"waiting on round trips and commits, no side busy ({parts} cores)"
