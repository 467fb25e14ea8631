"""The OCI distribution-spec error codes, declared once with their HTTP status and message."""

from __future__ import annotations

from flask import Flask

from berth_common.errors import APIError, ErrorCode, register_error_handlers

BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", 404, "blob unknown to registry")
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
MANIFEST_BLOB_UNKNOWN = ErrorCode("MANIFEST_BLOB_UNKNOWN", 404, "manifest references a manifest or blob unknown to registry")
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", 400, "manifest invalid")
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NAME_INVALID = ErrorCode("NAME_INVALID", 400, "invalid repository name")
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", 404, "repository name not known to registry")
SIZE_INVALID = ErrorCode("SIZE_INVALID", 400, "provided length did not match content length")
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", 401, "authentication required")
DENIED = ErrorCode("DENIED", 403, "requested access to the resource is denied")
UNSUPPORTED = ErrorCode("UNSUPPORTED", 405, "the operation is unsupported")
TOOMANYREQUESTS = ErrorCode("TOOMANYREQUESTS", 429, "too many requests")

# Not in the spec's table but needed for statuses the spec prescribes elsewhere.
RANGE_INVALID = ErrorCode("RANGE_INVALID", 416, "requested range not satisfiable")
PAYLOAD_TOO_LARGE = ErrorCode("SIZE_INVALID", 413, "payload too large")
UNKNOWN = ErrorCode("UNKNOWN", 500, "unknown error")
UNAVAILABLE = ErrorCode("UNAVAILABLE", 503, "service unavailable")

BY_STATUS = {
    401: UNAUTHORIZED,
    403: DENIED,
    404: NAME_UNKNOWN,
    405: UNSUPPORTED,
    413: PAYLOAD_TOO_LARGE,
    416: RANGE_INVALID,
    429: TOOMANYREQUESTS,
}

__all__ = ["APIError", "init_app"] + [name for name, value in globals().items() if isinstance(value, ErrorCode)]


def init_app(app: Flask) -> None:
    register_error_handlers(app, BY_STATUS, UNKNOWN)
