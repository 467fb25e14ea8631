"""The client tools the benchmark drives, identical for both systems: skopeo, curl and wrk.

Every call has a timeout, and a failing tool raises :class:`ToolError` with its own message, so a
figure is either measured properly or recorded as failed, never silently wrong.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

WRK_SCRIPT = Path(__file__).with_name("wrk_headers.lua")


class ToolError(RuntimeError):
    """A client tool failed or answered something other than success."""


def _run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{argv[0]} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ToolError(f"{argv[0]} exited {result.returncode}: {' / '.join(tail)}")
    return result


def write_authfile(path: Path, host: str, username: str, password: str) -> Path:
    """A containers-auth.json for ``host`` (mode 0600), so credentials never appear in a command line."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"auths": {host: {"auth": auth}}}, handle)
    return path


def skopeo_copy(source: str, destination: str, authfile: Path | None, timeout: float) -> float:
    """Copy an image with skopeo and return the wall time in seconds.

    ``--preserve-digests`` makes skopeo refuse to recompress or convert anything, so the bytes
    pushed are exactly the layout's bytes for both systems. ``authfile`` holds the registry's
    credentials (None for an open registry).
    """
    argv = ["skopeo", "copy", "--quiet", "--preserve-digests", "--retry-times", "0"]
    if authfile is not None:
        argv += ["--authfile", str(authfile)]
    if source.startswith("docker://"):
        argv.append("--src-tls-verify=false")
    if destination.startswith("docker://"):
        argv.append("--dest-tls-verify=false")
    started = time.perf_counter()
    _run([*argv, source, destination], timeout)
    return time.perf_counter() - started


def _curl(args: list[str], write_out: str, authorization: str | None, timeout: float) -> list[str]:
    """Run curl and return the fields of ``write_out`` (space separated).

    The Authorization header goes in through a config read from stdin, so a token never
    appears on a command line that ``ps`` could show.
    """
    config = f'header = "Authorization: {authorization}"\n' if authorization else ""
    argv = ["curl", "--silent", "--show-error", "--http1.1", "--config", "-", "-w", write_out, *args]
    try:
        result = subprocess.run(argv, input=config, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"curl did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        raise ToolError(f"curl exited {result.returncode}: {result.stderr.strip()}")
    # Response bodies go to /dev/null, so stdout holds only the write-out fields.
    return result.stdout.split()


@dataclasses.dataclass(frozen=True)
class Transfer:
    seconds: float
    size: int


def blob_upload(base_url: str, repository: str, path: Path, digest: str, authorization: str | None, timeout: float) -> Transfer:
    """Monolithic upload: POST for a session, then one PUT of the whole file with the digest."""
    fields = _curl(
        ["-X", "POST", "-H", "Content-Length: 0", "-o", "/dev/null", f"{base_url}/v2/{repository}/blobs/uploads/"],
        "%{http_code} %{time_total} %header{location}", authorization, 60,
    )  # fmt: skip
    if fields[0] != "202" or len(fields) < 3:
        raise ToolError(f"upload POST answered {fields[0]} {'without a Location' if len(fields) < 3 else ''}, expected 202")
    post_seconds, location = float(fields[1]), urljoin(base_url + "/", fields[2])
    separator = "&" if "?" in location else "?"
    fields = _curl(
        ["-X", "PUT", "-T", str(path), "-H", "Content-Type: application/octet-stream", "-H", "Expect:", "-o", "/dev/null",
         f"{location}{separator}digest={digest}"],
        "%{http_code} %{time_total} %{size_upload}", authorization, timeout,
    )  # fmt: skip
    if fields[0] != "201":
        raise ToolError(f"upload PUT answered {fields[0]}, expected 201")
    size = int(fields[2])
    if size != path.stat().st_size:
        raise ToolError(f"curl sent {size} bytes of {path.stat().st_size}")
    return Transfer(post_seconds + float(fields[1]), size)


def blob_download(base_url: str, repository: str, digest: str, expected_size: int, authorization: str | None, timeout: float) -> Transfer:
    """GET a blob to /dev/null, following a redirect as clients do."""
    fields = _curl(
        ["-L", "-o", "/dev/null", f"{base_url}/v2/{repository}/blobs/{digest}"],
        "%{http_code} %{time_total} %{size_download}", authorization, timeout,
    )  # fmt: skip
    if fields[0] != "200":
        raise ToolError(f"blob GET answered {fields[0]}, expected 200")
    size = int(fields[2])
    if size != expected_size:
        raise ToolError(f"blob GET returned {size} bytes, expected {expected_size}")
    return Transfer(float(fields[1]), size)


@dataclasses.dataclass(frozen=True)
class Load:
    """What wrk measured for one URL at one concurrency."""

    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, connections: int, duration: float, accept: str | None, authorization: str | None) -> Load:
    """Load ``url`` with wrk for ``duration`` seconds; every answer must be a success.

    Two threads at most: this machine has two cores, shared with the server being measured.
    """
    threads = min(connections, 2)
    env = {**os.environ, "BENCH_ACCEPT": accept or "", "BENCH_AUTHORIZATION": authorization or ""}
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
            "-s", str(WRK_SCRIPT), url]  # fmt: skip
    result = _run(argv, duration + 60, env=env)
    return parse_wrk_summary(result.stdout, connections)


def parse_wrk_summary(stdout: str, connections: int) -> Load:
    """The :class:`Load` in wrk's output (the script's BENCH_RESULT line); raises on any failed request."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise ToolError(f"wrk printed no summary: {stdout.strip()[-300:]}")
    summary = json.loads(line.removeprefix("BENCH_RESULT "))
    errors = {k: v for k, v in summary["errors"].items() if v}
    if errors:
        raise ToolError(f"wrk saw failures at {connections} connections: {errors} of {summary['requests']} requests")
    if summary["requests"] == 0:
        raise ToolError("wrk completed no request")
    return Load(
        connections=connections,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
    )
