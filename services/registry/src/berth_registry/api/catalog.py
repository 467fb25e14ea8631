"""``GET /v2/_catalog``: every repository, for holders of ``registry:catalog:*``."""

from __future__ import annotations

from flask import Blueprint, Response, json, request

from berth_registry.api import common
from berth_registry.api.tags import link_header

bp = Blueprint("catalog", __name__)


@bp.get("/v2/_catalog")
def catalog() -> Response:
    common.require_catalog()
    page = common.service("repositories").catalog(request.args.get("n"), request.args.get("last"))
    response = Response(json.dumps({"repositories": page.names}), 200, mimetype="application/json")
    if page.next_last is not None:
        response.headers["Link"] = link_header("/v2/_catalog", page.limit, page.next_last)
    return response
