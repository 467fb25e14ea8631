"""Small helpers shared by core's blueprints: JSON bodies, typed fields, times, 201 responses.

Request bodies are strict: a body must be a JSON object, unknown fields and wrong types are a
400 naming the field, and strings are bounded, so bad input never reaches a service half-read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from flask import Response, current_app, request

from berth_core import errors
from berth_core.errors import APIError

MAX_BODY_BYTES = 1024 * 1024


def harbor_time(value: dt.datetime | None) -> str:
    """Harbor's date-time rendering (UTC, milliseconds, ``Z``); Go's zero time for "never"."""
    if value is None:
        return "0001-01-01T00:00:00.000Z"
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bad_request(message: str) -> APIError:
    return APIError(errors.BAD_REQUEST, message)


def json_body(allowed: Collection[str], *, required: bool = True, allow_unknown: Collection[str] = ()) -> dict[str, Any]:
    """The request's JSON object; 400 if it is not one or has fields outside ``allowed``.

    ``allow_unknown`` lists read-only fields clients commonly echo back (ignored, not errors).
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise bad_request(f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise bad_request("a JSON request body is required")
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed) - set(allow_unknown))
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(str(u)[:64] for u in unknown[:5])}")
    return {key: value for key, value in body.items() if key in allowed}


def get_str(body: dict[str, Any], key: str, *, max_length: int = 255, default: str | None = None) -> str | None:
    """A string field (or ``default`` when absent or null); 400 on a wrong type or length."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    if len(value) > max_length:
        raise bad_request(f"{key} must be at most {max_length} characters")
    if "\x00" in value:
        raise bad_request(f"{key} must not contain NUL characters")
    return value


def get_bool(body: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean")
    return value


def get_int(
    body: dict[str, Any],
    key: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{key} must be an integer")
    if minimum is not None and value < minimum:
        raise bad_request(f"{key} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise bad_request(f"{key} must be at most {maximum}")
    return value


def path_id(value: str, name: str) -> int:
    """An integer id from the URL path; 400 if it is not a positive 32-bit integer."""
    if not value.isdigit() or len(value) > 10 or not 0 < int(value) <= 2**31 - 1:
        raise bad_request(f"{name} must be a positive integer")
    return int(value)


def created(location: str) -> Response:
    """Harbor's 201: empty body, ``Location`` of the new resource."""
    response = Response(status=201)
    response.headers["Location"] = location
    return response


def ok() -> Response:
    return Response(status=200)


def ext(name: str) -> Any:
    """An app extension (``db``, ``settings``, ``configs``, ``auth``, ...) by short name."""
    return current_app.extensions[f"berth.{name}"]
