"""``/v2/<name>/manifests/<reference>``: GET/HEAD (the hottest path), PUT, DELETE."""

from __future__ import annotations

from flask import Blueprint, Response, request

from berth_registry.api import common
from berth_registry.services.manifests import read_manifest

bp = Blueprint("manifests", __name__)


@bp.route("/v2/<path:name>/manifests/<reference>", methods=["GET", "HEAD"])
def get_manifest(name: str, reference: str) -> Response:
    repo = common.repository(name)
    bearer = common.require(repo, "pull")
    with_body = request.method == "GET"
    content = common.service("manifests").get(repo, reference, with_body=with_body, actor=common.actor(bearer) if with_body else None)
    response = Response(content.body or b"", 200, {"Docker-Content-Digest": content.digest, "ETag": f'"{content.digest}"'})
    response.headers["Content-Type"] = content.media_type
    response.content_length = content.size
    return response


@bp.put("/v2/<path:name>/manifests/<reference>")
def put_manifest(name: str, reference: str) -> Response:
    repo = common.repository(name)
    bearer = common.require(repo, "push", ("pull", "push"))
    body = read_manifest(request.stream, request.content_length)
    result = common.service("manifests").put(
        repo, reference, body, request.headers.get("Content-Type"), request.args.getlist("tag"), common.actor(bearer)
    )
    headers = {"Location": f"/v2/{repo.full}/manifests/{result.digest}", "Docker-Content-Digest": result.digest}
    if result.subject:
        headers["OCI-Subject"] = result.subject
    if request.args.getlist("tag"):
        headers["OCI-Tag"] = ", ".join(result.tags)
    return common.empty(201, headers)


@bp.delete("/v2/<path:name>/manifests/<reference>")
def delete_manifest(name: str, reference: str) -> Response:
    repo = common.repository(name)
    bearer = common.require(repo, "delete")
    common.service("manifests").delete(repo, reference, common.actor(bearer))
    return common.empty(202)
