"""``GET /v2/<name>/referrers/<digest>`` (OCI 1.1): manifests whose subject is the digest."""

from __future__ import annotations

from flask import Blueprint, Response, json, request

from berth_registry.api import common
from berth_registry.services.manifest_formats import OCI_INDEX

bp = Blueprint("referrers", __name__)


@bp.get("/v2/<path:name>/referrers/<digest>")
def referrers(name: str, digest: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "pull")
    artifact_type = request.args.get("artifactType") or None
    found = common.service("manifests").referrers(repo, digest, artifact_type)
    manifests = []
    for referrer in found:
        descriptor = {"mediaType": referrer.media_type, "digest": referrer.digest, "size": referrer.size}
        if referrer.artifact_type:
            descriptor["artifactType"] = referrer.artifact_type
        if referrer.annotations:
            descriptor["annotations"] = referrer.annotations
        manifests.append(descriptor)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    response = Response(body, 200, mimetype=OCI_INDEX)
    if artifact_type:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response
