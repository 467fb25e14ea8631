"""``GET /v2/<name>/tags/list`` with ``n``/``last`` pagination and the ``Link`` header."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, json, request

from berth_registry.api import common

bp = Blueprint("tags", __name__)


def link_header(path: str, limit: int, last: str) -> str:
    """RFC 5988 link to the next page, as distribution sends it."""
    return f'<{path}?{urlencode({"n": limit, "last": last})}>; rel="next"'


@bp.get("/v2/<path:name>/tags/list")
def list_tags(name: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "pull")
    page = common.service("repositories").tags(repo, request.args.get("n"), request.args.get("last"))
    response = Response(json.dumps({"name": repo.full, "tags": page.names}), 200, mimetype="application/json")
    if page.next_last is not None:
        response.headers["Link"] = link_header(f"/v2/{repo.full}/tags/list", page.limit, page.next_last)
    return response
