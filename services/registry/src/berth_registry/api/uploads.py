"""``/v2/<name>/blobs/uploads/``: start (or mount, or single-POST), PATCH, PUT, status, cancel.

Also the access check nginx makes before it takes a large upload body (and, with filesystem
storage, spools it to disk: :mod:`berth_registry.storage.spool`): only a body the upload would
take is read; any other request is passed on without its body and refused here as usual.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import unquote

import structlog
from flask import Blueprint, Response, request

from berth_registry import names
from berth_registry.api import common
from berth_registry.db.blobs import Blob
from berth_registry.names import RepositoryName
from berth_registry.services.exceptions import RegistryError, UploadInvalid
from berth_registry.services.uploads import Progress, RequestBody
from berth_registry.storage import spool

log = structlog.get_logger(__name__)

bp = Blueprint("uploads", __name__)

PUSH = ("pull", "push")
# nginx's auth_request target (outside /v2/, so the proxy never routes a client here).
ACCESS_CHECK_PATH = "/_berth/upload-access"
ORIGINAL_URI_HEADER = "X-Original-URI"
_UPLOAD_URI = re.compile(r"/v2/(?P<name>.+)/blobs/uploads/(?P<upload>[^/]*)")


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
        with _request_body() as body:
            blob = uploads.monolithic(repo, bearer.subject, digest, body)
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
    with _request_body() as body:
        progress = common.service("uploads").append(repo, upload_id, body, request.headers.get("Content-Range"))
    return _progress(progress, 202)


@bp.put("/v2/<path:name>/blobs/uploads/<upload_id>")
def finish_upload(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    with _request_body() as body:
        blob = common.service("uploads").finish(repo, upload_id, request.args.get("digest", ""), body, request.headers.get("Content-Range"))
    return _created(repo, blob)


@bp.delete("/v2/<path:name>/blobs/uploads/<upload_id>")
def cancel_upload(name: str, upload_id: str) -> Response:
    repo = common.repository(name)
    common.require(repo, "push", PUSH)
    common.service("uploads").cancel(repo, upload_id)
    return common.empty(204)


@bp.get(ACCESS_CHECK_PATH)
def upload_access() -> Response:
    """nginx asks before it takes a large upload body: 204 if the upload would take it.

    That is: the token may push to the repository, the registry is writable, and the session
    named in the URI exists (a POST starts one). Whatever else (no or a bad token, no push right,
    a malformed name or URI, an unknown session, read-only mode) answers 403, on which nginx
    passes the request on without its body, for the upload view to refuse with the precise
    error (a 401 challenge, 403 DENIED, 404 BLOB_UPLOAD_UNKNOWN...), which it does from the
    headers. nginx acts only on the status; 204 and 403 are the only answers it expects.
    """
    match = _UPLOAD_URI.fullmatch(request.headers.get(ORIGINAL_URI_HEADER, "").partition("?")[0])
    if match is None:
        return common.empty(403)
    try:
        repo = common.repository(unquote(match["name"]))
        common.require(repo, "push", PUSH)
        taken = common.service("uploads").would_take_body(repo, unquote(match["upload"]) or None)
    except (RegistryError, names.InvalidName):
        return common.empty(403)
    return common.empty(204 if taken else 403)


@contextlib.contextmanager
def _request_body() -> Iterator[RequestBody]:
    """The body to store: the file nginx spooled (if the spool is configured), else the stream.

    Without a configured spool folder the header means nothing and is ignored.
    """
    named = request.headers.get(spool.HEADER)
    folder = common.service("settings").upload_spool_dir
    if not named or not folder:
        yield RequestBody.streamed(request.stream, request.content_length)
        return
    try:
        spooled = spool.Spool(folder).open(named)
    except spool.SpoolRefused as exc:
        log.warning("spooled_body_refused", reason=str(exc))
        raise UploadInvalid("the upload body cannot be read") from None
    with spooled:
        yield RequestBody.spooled(spooled.file)
