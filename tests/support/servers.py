"""Small real servers for tests: an HTTP upstream that echoes what it received, and the stop of a
server process a test started."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body_size = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body_size = len(self.rfile.read(length)) if length else 0
        payload = json.dumps(
            {"server": self.server.label, "method": self.command, "path": self.path,
             "headers": {k.lower(): v for k, v in self.headers.items()}, "body_size": body_size}
        ).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_chunked(self) -> int:
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return total
            total += len(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *_args) -> None:
        pass


@contextmanager
def echo_server(label: str) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 that answers every request with a JSON echo; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.label = label
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a server process to stop (SIGTERM); kill it if it has not exited within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
