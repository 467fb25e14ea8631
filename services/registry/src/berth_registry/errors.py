"""The OCI distribution-spec error codes, declared once with their HTTP status and message.

``translate`` is the one place where domain exceptions (services.exceptions, names, storage)
become OCI errors; views never pick codes for them.
"""

from __future__ import annotations

from flask import Flask

from berth_common.errors import APIError, ErrorCode, register_error_handlers
from berth_registry import names
from berth_registry.services import exceptions
from berth_registry.storage.base import PathNotFound

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
# distribution's code for a bad ``n`` on tags/list and _catalog.
PAGINATION_NUMBER_INVALID = ErrorCode("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested")

BY_STATUS = {
    # werkzeug's only 400 here: a body that ended before its Content-Length (ClientDisconnected).
    400: SIZE_INVALID,
    401: UNAUTHORIZED,
    403: DENIED,
    404: NAME_UNKNOWN,
    405: UNSUPPORTED,
    413: PAYLOAD_TOO_LARGE,
    416: RANGE_INVALID,
    429: TOOMANYREQUESTS,
}

# Most specific class first: translate() walks the exception's MRO.
TRANSLATIONS: dict[type[Exception], ErrorCode] = {
    exceptions.Unauthorized: UNAUTHORIZED,
    exceptions.Denied: DENIED,
    exceptions.RepositoryUnknown: NAME_UNKNOWN,
    exceptions.BlobUnknown: BLOB_UNKNOWN,
    exceptions.UploadUnknown: BLOB_UPLOAD_UNKNOWN,
    exceptions.UploadInvalid: BLOB_UPLOAD_INVALID,
    exceptions.RangeNotSatisfiable: RANGE_INVALID,
    exceptions.DigestInvalid: DIGEST_INVALID,
    exceptions.SizeInvalid: SIZE_INVALID,
    exceptions.ManifestUnknown: MANIFEST_UNKNOWN,
    exceptions.ManifestInvalid: MANIFEST_INVALID,
    exceptions.ManifestBlobUnknown: MANIFEST_BLOB_UNKNOWN,
    exceptions.ManifestTooLarge: PAYLOAD_TOO_LARGE,
    exceptions.Unsupported: UNSUPPORTED,
    exceptions.PaginationInvalid: PAGINATION_NUMBER_INVALID,
    names.InvalidRepositoryName: NAME_INVALID,
    names.InvalidDigest: DIGEST_INVALID,
    names.InvalidTag: MANIFEST_INVALID,
    # An upload id that cannot exist names no session.
    names.InvalidUploadId: BLOB_UPLOAD_UNKNOWN,
    # The database knew the blob but the bytes are gone (e.g. removed behind our back).
    PathNotFound: BLOB_UNKNOWN,
}

__all__ = ["APIError", "init_app", "translate"] + [name for name, value in globals().items() if isinstance(value, ErrorCode)]


def translate(exc: Exception) -> APIError | None:
    """The OCI error for a domain exception, or None to let it become a 500."""
    for cls in type(exc).__mro__:
        code = TRANSLATIONS.get(cls)
        if code is not None:
            if isinstance(exc, exceptions.RegistryError):
                return APIError(code, exc.message or None, exc.detail, exc.headers)
            if isinstance(exc, PathNotFound):
                return APIError(code)
            return APIError(code, str(exc) or None)
    return None


def init_app(app: Flask) -> None:
    register_error_handlers(app, BY_STATUS, UNKNOWN, translate)
