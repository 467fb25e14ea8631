"""``GET /v2/``: the API version check every client starts with (it needs any valid token)."""

from __future__ import annotations

from flask import Blueprint, Response

from berth_registry.api import common

bp = Blueprint("base", __name__)

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"


@bp.get("/v2/")
def api_version() -> Response:
    # As distribution with token auth: 401 and a challenge without scope until the client logs in.
    common.principal([])
    return Response("{}", 200, mimetype="application/json")


def add_api_version(response: Response) -> Response:
    """Every answer carries the API version, the 401 of the first ping included (docker checks it)."""
    response.headers[API_VERSION_HEADER] = API_VERSION
    return response
