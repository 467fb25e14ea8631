"""Component health as Harbor's ``GET /api/v2.0/health`` reports it.

Each check runs in its own thread with a short timeout so one slow component cannot hold the
whole answer; results are cached briefly so health polling does not load the dependencies.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable

import pika
import requests

from berth_common.db import Database
from berth_common.logging import parse_address
from berth_core.db import jobservice as jobservice_db
from berth_core.settings import CoreSettings

CHECK_TIMEOUT = 3.0
CACHE_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class ComponentHealth:
    name: str
    status: str
    error: str | None = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "status": self.status}
        if self.error:
            out["error"] = self.error
        return out


class HealthChecker:
    """Runs every component check concurrently and remembers the answer for a moment."""

    def __init__(self, settings: CoreSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._lock = threading.Lock()
        self._cached: tuple[float, list[ComponentHealth]] | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")

    def checks(self) -> dict[str, Callable[[], None]]:
        return {
            "core": lambda: None,
            "database": self.db.ping,
            "registry": self._check_registry,
            "jobservice": self._check_jobservice,
            "rabbitmq": self._check_rabbitmq,
            "log": self._check_log_collector,
        }

    def run(self) -> list[ComponentHealth]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
        futures = {name: self._pool.submit(check) for name, check in self.checks().items()}
        results = []
        for name, future in futures.items():
            try:
                future.result(timeout=CHECK_TIMEOUT)
                results.append(ComponentHealth(name, "healthy"))
            except concurrent.futures.TimeoutError:
                results.append(ComponentHealth(name, "unhealthy", f"no answer within {CHECK_TIMEOUT:g}s"))
            except Exception as exc:  # noqa: BLE001 - any failure of a check means unhealthy
                results.append(ComponentHealth(name, "unhealthy", _describe(exc)))
        with self._lock:
            self._cached = (time.monotonic(), results)
        return results

    def _check_registry(self) -> None:
        response = requests.get(self.settings.registry_url.rstrip("/") + "/v2/", timeout=CHECK_TIMEOUT)
        if response.status_code not in (200, 401):
            raise RuntimeError(f"registry answered {response.status_code}")

    def _check_jobservice(self) -> None:
        with self.db.transaction() as cur:
            newest = jobservice_db.newest_heartbeat(cur)
        if newest is None:
            raise RuntimeError("no jobservice process has registered")
        age = (dt.datetime.now(dt.UTC) - newest).total_seconds()
        if age > self.settings.jobservice_heartbeat_seconds:
            raise RuntimeError(f"last jobservice heartbeat {age:.0f}s ago")

    def _check_rabbitmq(self) -> None:
        params = pika.URLParameters(self.settings.rabbitmq_url)
        params.socket_timeout = CHECK_TIMEOUT
        params.blocked_connection_timeout = CHECK_TIMEOUT
        params.connection_attempts = 1
        connection = pika.BlockingConnection(params)
        connection.close()

    def _check_log_collector(self) -> None:
        if not self.settings.log_collector_address:
            raise RuntimeError("no log collector configured")
        host, port = parse_address(self.settings.log_collector_address)
        with socket.create_connection((host, port), timeout=CHECK_TIMEOUT):
            pass


def _describe(exc: Exception) -> str:
    # Connection errors carry URLs; keep the message short and free of credentials.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "@" in text:
        text = type(exc).__name__
    return text[:200]


def overall(components: list[ComponentHealth]) -> str:
    return "healthy" if all(c.status == "healthy" for c in components) else "unhealthy"
