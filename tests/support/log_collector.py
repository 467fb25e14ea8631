"""The log collector (``berth-log``) as a real process on a free port, for the tests that need
a syslog server: the collector's own tests and the audit forwarder's."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from support.waiting import wait_until

BERTH_LOG = shutil.which("berth-log", path=os.path.dirname(sys.executable))
START_TIMEOUT = 10.0
WAIT_TIMEOUT = 10.0


def free_tcp_udp_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both TCP and UDP")


@dataclasses.dataclass
class Collector:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    stdout_path: Path

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def udp(self, data: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(data, self.address)

    def tcp(self, data: bytes) -> None:
        with socket.create_connection(self.address, timeout=5) as sock:
            sock.sendall(data)

    def lines(self, name: str) -> list[str]:
        path = self.directory / name
        return path.read_text("utf-8").splitlines() if path.exists() else []

    def wait_for_line(self, name: str, needle: str) -> str:
        found = wait_until(
            lambda: [line for line in self.lines(name) if needle in line], timeout=WAIT_TIMEOUT, what=f"{needle!r} in {name}"
        )
        return found[0]

    def stdout_events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout_path.read_text().splitlines() if line.startswith("{")]

    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def run_collector(tmp_path: Path, port: int | None = None, **env: str) -> Iterator[Collector]:
    assert BERTH_LOG, "berth-log is not installed in this virtualenv (pip install -e services/log)"
    port = port or free_tcp_udp_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    directory = tmp_path / "logs"
    stdout_path = tmp_path / "collector.out"
    environ = {
        **os.environ,
        "LOG_DIRECTORY": str(directory),
        "LOG_BIND": "127.0.0.1",
        "LOG_PORT": str(port),
        "LOG_LEVEL": "DEBUG",
        **env,
    }
    with open(stdout_path, "wb") as out:
        process = subprocess.Popen([BERTH_LOG], env=environ, stdout=out, stderr=subprocess.STDOUT)
    collector = Collector(process, port, directory, stdout_path)
    try:
        wait_until(lambda: not collector.alive() or _accepts(collector.address), timeout=START_TIMEOUT, what="the collector to listen")
        assert collector.alive(), stdout_path.read_text()
        yield collector
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False
