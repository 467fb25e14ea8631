"""Memory and CPU of server processes, read from /proc.

A server is named by its root pids (gunicorn master, nginx master, the distribution binary);
its processes are those roots and all their descendants, looked up afresh on every reading so a
worker that gunicorn replaces mid-run is still counted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _parent_map() -> dict[int, int]:
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parents[int(entry.name)] = int(fields[1])  # field 4 of stat: ppid
    return parents


def process_tree(roots: Iterable[int]) -> list[int]:
    """The live processes among ``roots`` and all their descendants."""
    parents = _parent_map()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [r for r in roots if r in parents]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return sorted(set(found))


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of ``pids``, including children they have reaped.

    Counting reaped children (cutime/cstime) keeps the CPU of a worker that exited during the
    measurement: its time moves into its parent's counters when the parent waits for it.
    """
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            # stat fields 14-17 (1-based, counting pid and comm): utime stime cutime cstime.
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident set size summed over ``pids`` (processes that vanished count as 0)."""
    total = 0
    for pid in pids:
        try:
            resident = int((PROC / str(pid) / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * PAGE_SIZE
    return total


class RssSampler:
    """Samples the summed RSS of a process tree every ``interval`` seconds in a thread.

    Use as a context manager around the work being measured; ``samples`` holds the readings.
    """

    def __init__(self, roots: Callable[[], list[int]], interval: float = 0.1) -> None:
        self._roots = roots
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.samples.append(rss_bytes(process_tree(self._roots())))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        # One last reading, so a push shorter than the interval still has a sample after the start.
        self.samples.append(rss_bytes(process_tree(self._roots())))

    @property
    def peak(self) -> int:
        return max(self.samples)
