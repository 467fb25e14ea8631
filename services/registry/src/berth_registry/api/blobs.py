"""``/v2/<name>/blobs/<digest>``: HEAD and GET (fast path, redirect or stream with Range), DELETE."""

from __future__ import annotations

from flask import Blueprint, Response, request

from berth_registry.api import common
from berth_registry.db.blobs import Blob

bp = Blueprint("blobs", __name__)


def _headers(blob: Blob) -> dict[str, str]:
    return {
        "Docker-Content-Digest": blob.digest,
        "ETag": f'"{blob.digest}"',
        "Accept-Ranges": "bytes",
        "Content-Type": common.OCTET_STREAM,
    }


@bp.route("/v2/<path:name>/blobs/<digest>", methods=["GET", "HEAD"])
def get_blob(name: str, digest: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "pull")
    blobs = common.service("blobs")
    if request.method == "HEAD":
        blob = blobs.stat(repo, digest)
        response = Response(status=200, headers=_headers(blob))
        response.content_length = blob.size
        return response
    download = blobs.download(repo, digest, request.headers.get("Range"))
    headers = _headers(download.blob)
    if download.accel_path is not None:
        # nginx replaces this empty answer with the file (sendfile, Range) from its internal location.
        headers["X-Accel-Redirect"] = download.accel_path
        return Response(status=200, headers=headers)
    if download.redirect is not None:
        headers["Location"] = download.redirect
        return common.empty(307, headers)
    response = Response(download.body, status=download.status, headers=headers, direct_passthrough=True)
    response.content_length = download.length
    if download.status == 206:
        response.headers["Content-Range"] = f"bytes {download.start}-{download.end}/{download.blob.size}"
    return response


@bp.delete("/v2/<path:name>/blobs/<digest>")
def delete_blob(name: str, digest: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "delete")
    common.service("blobs").unlink(repo, digest)
    return common.empty(202)
