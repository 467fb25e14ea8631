"""The one error shape of the product: ``{"errors": [{"code", "message", "detail"}]}``.

Each service declares its code table (the registry: the OCI distribution codes; core: Harbor's
codes) as :class:`ErrorCode` values and raises :class:`APIError`. ``register_error_handlers``
installs one Flask handler that renders the envelope, maps werkzeug's HTTP errors onto the
service's codes, and turns anything unexpected into a generic 500 whose traceback goes only to
the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    """A code of a service's error table with its HTTP status and default message."""

    code: str
    status: int
    message: str


class APIError(Exception):
    """Raised by handlers and services; rendered as the error envelope."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or code.message)
        self.code = code
        self.message = message or code.message
        self.detail = detail
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return self.code.status

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"code": self.code.code, "message": self.message}
        if self.detail is not None:
            item["detail"] = self.detail
        return item


def envelope_response(errors: list[APIError], status: int | None = None) -> Response:
    """Render one or more errors as a JSON response with the first error's headers."""
    body = json.dumps({"errors": [err.to_dict() for err in errors]})
    response = Response(body, status=status or errors[0].status, mimetype="application/json")
    for err in errors:
        for key, value in err.headers.items():
            response.headers[key] = value
    return response


def register_error_handlers(
    app: Flask,
    by_status: Mapping[int, ErrorCode],
    internal: ErrorCode,
    translate: Callable[[Exception], APIError | None] | None = None,
) -> None:
    """Install the service's single error handler.

    ``by_status`` maps HTTP statuses raised by werkzeug (404 for an unknown route, 405, 413...)
    onto codes of the service's table; ``internal`` is used for anything unexpected;
    ``translate`` may turn a domain exception into an APIError (return None to decline).
    """

    @app.errorhandler(APIError)
    def handle_api_error(err: APIError) -> Response:
        if err.status >= 500:
            log.error("request_failed", code=err.code.code, error=err.message)
        return envelope_response([err])

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = by_status.get(status) or ErrorCode(_status_code_name(status), status, exc.name)
        headers = {}
        if status == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return envelope_response([APIError(code, exc.description or code.message, headers=headers)])

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        if translate is not None:
            translated = translate(exc)
            if translated is not None:
                return handle_api_error(translated)
        log.exception("unhandled_exception", error_type=type(exc).__name__)
        return envelope_response([APIError(internal)])


def _status_code_name(status: int) -> str:
    names = {
        400: "BAD_REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        409: "CONFLICT",
        413: "PAYLOAD_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        416: "RANGE_NOT_SATISFIABLE",
        429: "TOO_MANY_REQUESTS",
    }
    return names.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
