"""Per-request context for Flask services: a request id on every log line and response."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("berth.access")


def init_request_context(app: Flask, service: str, access_log: bool = True) -> None:
    """Bind ``request_id`` and ``service`` for each request, echo the id, log one access line."""

    @app.before_request
    def bind_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = request_id
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, service=service)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if access_log:
            started = getattr(g, "request_started", None)
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2) if started else None,
                remote_addr=client_address(),
            )
        return response

    @app.teardown_request
    def clear_context(_exc: BaseException | None) -> None:
        structlog.contextvars.clear_contextvars()


def client_address() -> str | None:
    """The client's address as the proxy saw it (X-Real-IP), else the socket peer."""
    return request.headers.get("X-Real-IP") or request.remote_addr
