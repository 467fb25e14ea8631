"""Core's error table: Harbor's codes, rendered in the shared envelope."""

from __future__ import annotations

from flask import Flask

from berth_common.errors import APIError, ErrorCode, register_error_handlers

BAD_REQUEST = ErrorCode("BAD_REQUEST", 400, "bad request")
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", 401, "unauthorized")
FORBIDDEN = ErrorCode("FORBIDDEN", 403, "forbidden")
NOT_FOUND = ErrorCode("NOT_FOUND", 404, "resource not found")
METHOD_NOT_ALLOWED = ErrorCode("METHOD_NOT_ALLOWED", 405, "method not allowed")
CONFLICT = ErrorCode("CONFLICT", 409, "conflict")
PRECONDITION = ErrorCode("PRECONDITION", 412, "precondition failed")
UNSUPPORTED_MEDIA_TYPE = ErrorCode("UNSUPPORTED_MEDIA_TYPE", 415, "unsupported media type")
TOO_MANY_REQUESTS = ErrorCode("TOO_MANY_REQUESTS", 429, "too many requests")
INTERNAL = ErrorCode("INTERNAL_SERVER_ERROR", 500, "internal server error")

BY_STATUS = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    412: PRECONDITION,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: TOO_MANY_REQUESTS,
}

__all__ = ["APIError", "init_app"] + [name for name, value in globals().items() if isinstance(value, ErrorCode)]


def init_app(app: Flask) -> None:
    register_error_handlers(app, BY_STATUS, INTERNAL)
