"""A real HTTP server on 127.0.0.1 that records webhook deliveries, for tests.

    with WebhookReceiver() as receiver:          # free port, stopped on exit
        receiver.url                             # http://127.0.0.1:<port>/hook
        receiver.fail_with(500)                  # answer 500 from now on (None: 200 again)
        receiver.fail_next(2, 503)               # answer 503 to the next two requests only
        receiver.delay = 2.0                     # sleep before answering (timeouts)
        receiver.wait_for(3, timeout=10)         # the first three requests, or AssertionError

Every request is kept as a :class:`Received` (method, path, headers, raw body, status sent).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


class WebhookReceiver:
    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self.delay = 0.0
        self._lock = threading.Condition()
        self._requests: list[Received] = []
        self._status: int | None = None
        self._fail_next: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver._next_status()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver._record(Received("POST", self.path, dict(self.headers.items()), body, status, time.monotonic()))

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    def fail_with(self, status: int | None) -> None:
        """Answer every following request with ``status`` (None: succeed again)."""
        with self._lock:
            self._status = status

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``, then go back to normal."""
        with self._lock:
            self._fail_next.extend([status] * count)

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests once they arrived; AssertionError after ``timeout``."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"expected {count} webhook requests within {timeout}s, got {len(self._requests)}")
            return list(self._requests[:count])

    def _next_status(self) -> int:
        with self._lock:
            if self._fail_next:
                return self._fail_next.pop(0)
            return self._status or 200

    def _record(self, received: Received) -> None:
        with self._lock:
            self._requests.append(received)
            self._lock.notify_all()
