"""``--profile``: py-spy records Berth's Python servers while each scenario runs.

One ``py-spy record --subprocesses`` per service (registry and core gunicorn masters, so every
worker is included) writes collapsed stacks ("raw" format, the input of flamegraph tools) next
to the JSON results; :func:`top_frames` turns a file into the summary stored in the JSON.
Sampling costs CPU on a 2-core machine, so a profiled benchmark is marked as such.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SAMPLE_RATE = 100  # per second; py-spy's default, cheap enough to leave figures meaningful


def py_spy() -> str | None:
    """Path of py-spy (``pip install py-spy`` into the virtualenv), or None."""
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def parse_collapsed(lines: list[str]) -> tuple[int, collections.Counter, collections.Counter]:
    """Total samples, self samples per frame and inclusive samples per frame of collapsed stacks."""
    total = 0
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return total, own, inclusive


def top_frames(path: Path, top: int = 15) -> dict[str, Any]:
    """The ``top`` frames by self and by inclusive time, in percent of samples.

    Inclusive frames are limited to Berth's own code, where a fix would go; process and
    thread bootstrap frames would otherwise fill the list at 100 %.
    """
    total, own, inclusive = parse_collapsed(path.read_text().splitlines())
    if total == 0:
        return {"samples": 0, "self": [], "inclusive": []}

    def pct(counter: collections.Counter, keep=lambda _frame: True) -> list[list]:
        return [[round(100 * n / total, 1), frame] for frame, n in counter.most_common() if keep(frame)][:top]

    return {"samples": total, "self": pct(own), "inclusive": pct(inclusive, lambda frame: "berth_" in frame)}


class Profiler:
    """Records every named process tree while a ``with profiler.record(...)`` block runs."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.executable = py_spy()
        if self.executable is None:
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.summaries: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def record(self, label: str, roots: dict[str, int]) -> Iterator[None]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        spies = {}
        for service, pid in roots.items():
            path = self.out_dir / f"{label}-{service}.collapsed"
            argv = [self.executable, "record", "--format", "raw", "--rate", str(SAMPLE_RATE), "--subprocesses", "--nonblocking",
                    "--pid", str(pid), "--output", str(path)]  # fmt: skip
            spies[service] = (subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), path)
        try:
            yield
        finally:
            for service, (process, path) in spies.items():
                process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                if path.exists():
                    self.summaries[f"{label}-{service}"] = top_frames(path)
