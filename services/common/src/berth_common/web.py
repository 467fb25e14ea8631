"""Per-request context for Flask services: a request id on every log line and response.

The access line: nginx writes one per request (with the same request id), so a service may leave
out its own line for successful reads (``log_reads=False``), its hottest and least interesting
requests; writes and every error are still logged with the service's view of them.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("berth.access")


READ_METHODS = frozenset({"GET", "HEAD"})


ROUTINE_READ_ANSWERS = frozenset({401, 404})


def request_id_from(incoming: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    return incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex


def init_request_context(app: Flask, service: str, access_log: bool = True, log_reads: bool = True) -> None:
    """Bind ``request_id`` and ``service`` for each request, echo the id, log one access line.

    ``log_reads=False`` skips the access line of GET/HEAD requests answered below 400, and of
    those answered 401 or 404: a registry client asks "is this blob here?" and "may I?" as a
    matter of course on every push (the proxy's access log still has each request).
    """

    @app.before_request
    def bind_request_id() -> None:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_id = request_id
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, service=service)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        status = response.status_code
        if access_log and (log_reads or request.method not in READ_METHODS or (status >= 400 and status not in ROUTINE_READ_ANSWERS)):
            started = getattr(g, "request_started", None)
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=status,
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
