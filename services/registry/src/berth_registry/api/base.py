"""``GET /v2/``: the API version check every client starts with."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("base", __name__)

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


@bp.get("/v2/")
def api_version():
    # TODO(registry): answer 401 with WWW-Authenticate when the request carries no valid token.
    return "{}", 200, {**API_VERSION_HEADER, "Content-Type": "application/json"}
