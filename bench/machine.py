"""What a result was measured on: CPU, cores, memory, kernel and the versions of the tools."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any


def _first_line_matching(path: Path, pattern: str) -> str | None:
    try:
        for line in path.read_text().splitlines():
            match = re.match(pattern, line)
            if match:
                return match.group(1).strip()
    except OSError:
        return None
    return None


def _command_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout + result.stderr).strip()


def _version(argv: list[str], pattern: str) -> str | None:
    match = re.search(pattern, _command_output(argv))
    return match.group(1) if match else None


def versions() -> dict[str, str | None]:
    """Versions of everything on the measured path; ``None`` for a tool that is not installed."""
    return {
        "nginx": _version(["nginx", "-v"], r"nginx/(\S+)"),
        "distribution": _version(["docker-registry", "--version"], r"docker-registry \S+ (\S+)"),
        "skopeo": _version(["skopeo", "--version"], r"skopeo version (\S+)"),
        "curl": _version(["curl", "--version"], r"curl (\S+)"),
        "wrk": _version(["wrk", "-v"], r"wrk (\S+)"),
        "python": platform.python_version(),
        "postgresql": _version(["psql", "--version"], r"\(PostgreSQL\) (\S+)"),
    }


def machine_info() -> dict[str, Any]:
    mem_kib = _first_line_matching(Path("/proc/meminfo"), r"MemTotal:\s+(\d+) kB")
    return {
        "cpu_model": _first_line_matching(Path("/proc/cpuinfo"), r"model name\s*:\s*(.+)") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_mib": int(mem_kib) // 1024 if mem_kib else None,
        "kernel": platform.release(),
        "os": _first_line_matching(Path("/etc/os-release"), r'PRETTY_NAME="?([^"]*)"?'),
        "versions": versions(),
    }
