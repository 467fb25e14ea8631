"""``/v2/<name>/blobs/uploads/``: start (or mount, or single-POST), PATCH, PUT, status, cancel."""

from __future__ import annotations

from flask import Blueprint, Response, request

from berth_registry import names
from berth_registry.api import common
from berth_registry.db.blobs import Blob
from berth_registry.names import RepositoryName
from berth_registry.services.uploads import Progress

bp = Blueprint("uploads", __name__)

PUSH = ("pull", "push")


def _progress(progress: Progress, status: int) -> Response:
    return common.empty(
        status, {"Location": progress.location, "Range": progress.range, "Docker-Upload-UUID": str(progress.upload_id)}
    )


def _created(repo: RepositoryName, blob: Blob) -> Response:
    return common.empty(201, {"Location": f"/v2/{repo.full}/blobs/{blob.digest}", "Docker-Content-Digest": blob.digest})


@bp.post("/v2/<path:name>/blobs/uploads/", strict_slashes=False)
def start_upload(name: str) -> Response:
    repo = common.repository(name)
    bearer = common.require(repo, "push", PUSH)
    mount = request.args.get("mount")
    if mount is not None:
        blob = _mount(repo, bearer, mount, request.args.get("from"))
        if blob is not None:
            return _created(repo, blob)
    uploads = common.service("uploads")
    digest = request.args.get("digest")
    if digest is not None and mount is None:
        blob = uploads.monolithic(repo, bearer.subject, digest, request.stream, request.content_length)
        return _created(repo, blob)
    return _progress(uploads.start(repo, bearer.subject), 202)


def _mount(repo: RepositoryName, bearer, digest: str, source: str | None) -> Blob | None:
    """Cross-repository mount (``from``) or anonymous mount (same project); None falls back to an upload."""
    names.digest(digest)
    origin = names.repository(source) if source else repo
    # Without pull on the source the caller cannot learn whether the blob exists there: the
    # answer is the ordinary fallback, a new upload session.
    if not bearer.allows("repository", origin.full, "pull"):
        return None
    return common.service("blobs").mount(repo, digest, origin.project)


@bp.get("/v2/<path:name>/blobs/uploads/<upload_id>")
def upload_status(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    return _progress(common.service("uploads").progress(repo, upload_id), 204)


@bp.patch("/v2/<path:name>/blobs/uploads/<upload_id>")
def append_chunk(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    progress = common.service("uploads").append(
        repo, upload_id, request.stream, request.headers.get("Content-Range"), request.content_length
    )
    return _progress(progress, 202)


@bp.put("/v2/<path:name>/blobs/uploads/<upload_id>")
def finish_upload(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    blob = common.service("uploads").finish(
        repo,
        upload_id,
        request.args.get("digest", ""),
        request.stream,
        request.headers.get("Content-Range"),
        request.content_length,
    )
    return _created(repo, blob)


@bp.delete("/v2/<path:name>/blobs/uploads/<upload_id>")
def cancel_upload(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    common.service("uploads").cancel(repo, upload_id)
    return common.empty(204)
