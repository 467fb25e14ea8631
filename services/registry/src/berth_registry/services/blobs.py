"""Blobs of a project: making uploaded bytes visible, mounting, serving, unlinking.

A blob becomes visible only here, after its digest was verified: the bytes move to their
content-addressed path first, then one short transaction records the blob, links it to the
project and charges the project's quota (exactly, under the quota row lock). Bytes that would
exceed the quota are refused before they are moved and nothing is kept.

Serving: with the filesystem driver and the fast path on, a GET is answered with an
``X-Accel-Redirect`` that nginx serves (sendfile, ranges); with S3 redirects on, with a 307 to a
presigned URL; otherwise the bytes stream from the driver in bounded chunks, with Range support.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

from berth_registry import names
from berth_registry.db import blobs, projects, read_cursor
from berth_registry.db.blobs import Blob
from berth_registry.db.projects import Project
from berth_registry.hashing import ResumableHash
from berth_registry.names import RepositoryName
from berth_registry.services import policy as policy_rules
from berth_registry.services.exceptions import BlobUnknown, RangeNotSatisfiable
from berth_registry.services.policy import Policy, QuotaExceeded
from berth_registry.storage import paths
from berth_registry.storage.base import PathNotFound, StorageDriver

READ_SIZE = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclasses.dataclass(frozen=True)
class Download:
    """How to answer a blob GET: exactly one of ``accel_path``, ``redirect`` or ``body`` is set."""

    blob: Blob
    status: int = 200
    start: int = 0
    end: int = 0  # inclusive; meaningful for 206
    accel_path: str | None = None
    redirect: str | None = None
    body: Iterator[bytes] | None = None

    @property
    def length(self) -> int:
        return self.end - self.start + 1 if self.status == 206 else self.blob.size


class BlobService:
    def __init__(self, db: Any, storage: StorageDriver, policy: Policy, *, fast_path: bool, fast_path_prefix: str) -> None:
        self.db = db
        self.storage = storage
        self.policy = policy
        self.fast_path = fast_path
        self.fast_path_prefix = "/" + fast_path_prefix.strip("/") + "/"

    # -- reading -------------------------------------------------------------------------------

    def stat(self, repository: RepositoryName, digest: str) -> Blob:
        """The blob as seen from the repository's project; raises BlobUnknown."""
        names.digest(digest)
        with read_cursor(self.db) as cur:
            blob = blobs.find_in_project_named(cur, repository.project, digest)
        if blob is None:
            raise BlobUnknown(detail={"digest": digest})
        if blob.status == "delete":
            # GC marked it; a client asking for it takes it back (Harbor's rescue on HEAD).
            with self.db.transaction() as cur:
                blobs.rescue(cur, blob)
        return blob

    def download(self, repository: RepositoryName, digest: str, range_header: str | None) -> Download:
        """Locate the blob and decide how its bytes reach the client."""
        blob = self.stat(repository, digest)
        path = paths.blob_data(digest)
        if self.fast_path and self.storage.local_path(path) is not None:
            # nginx serves the file (and any Range) itself: Python copies no bytes.
            return Download(blob, accel_path=self.fast_path_prefix + path.lstrip("/"))
        redirect = self.storage.redirect_url(path)
        if redirect is not None:
            return Download(blob, status=307, redirect=redirect)
        byte_range = parse_range(range_header, blob.size)
        if byte_range is None:
            return Download(blob, body=self._stream(path, 0, blob.size))
        start, end = byte_range
        return Download(blob, status=206, start=start, end=end, body=self._stream(path, start, end - start + 1))

    def _stream(self, path: str, offset: int, length: int) -> Iterator[bytes]:
        # Opened before the response starts, so a missing file is a clean 404, not a broken body.
        reader = self.storage.reader(path, offset)

        def generate() -> Iterator[bytes]:
            remaining = length
            try:
                while remaining > 0:
                    chunk = reader.read(min(READ_SIZE, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    yield chunk
            finally:
                reader.close()

        return generate()

    def digest_of(self, path: str, algorithm: str) -> str:
        """Hash the committed content at ``path`` (used when no saved hash state can be trusted)."""
        hasher = ResumableHash(algorithm)
        reader = self.storage.reader(path)
        try:
            while chunk := reader.read(READ_SIZE):
                hasher.update(chunk)
        finally:
            reader.close()
        return hasher.digest()

    # -- making bytes visible ------------------------------------------------------------------

    def commit(
        self, project: Project, digest: str, size: int, source: str, *, also: Callable[[Any], None] | None = None
    ) -> Blob:
        """Turn verified bytes at ``source`` into the blob ``digest`` of ``project``.

        Raises QuotaExceeded (after deleting ``source``) when the blob is new to the project
        and does not fit. ``source`` is consumed in every case. ``also(cur)`` runs in the
        transaction that makes the blob visible (the upload ends there, in one commit).
        """
        with read_cursor(self.db) as cur:
            existing = blobs.get(cur, digest)
            linked = digest in blobs.find_in_project(cur, project.project_id, [digest])
            quota = projects.get_quota(cur, project.project_id)
        if not linked and quota is not None and not quota.allows(size):
            self._discard(source)
            raise QuotaExceeded(project.name, quota, size)
        if existing is not None and existing.live and self._stored(digest):
            self._discard(source)  # the same bytes are already stored: keep one copy
        else:
            self.storage.move(source, paths.blob_data(digest))
        refused: QuotaExceeded | None = None
        with self.db.transaction() as cur:
            quota = projects.lock_quota(cur, project.project_id)
            blob = blobs.upsert(cur, digest, size)
            if also is not None:
                also(cur)
            if blobs.link(cur, project.project_id, blob.blob_id):
                try:
                    policy_rules.charge(cur, project, quota, blob.size)
                except QuotaExceeded as exc:
                    # Lost a race with another push: keep the (unlinked) blob row so GC can reclaim
                    # the bytes, but do not link it to the project.
                    blobs.unlink(cur, project.project_id, blob.blob_id)
                    refused = exc
        if refused is not None:
            raise refused
        return blob

    def _stored(self, digest: str) -> bool:
        """Whether storage really holds the blob (the row alone is not trusted to skip a move)."""
        try:
            self.storage.stat(paths.blob_data(digest))
        except PathNotFound:
            return False
        return True

    def _discard(self, path: str) -> None:
        try:
            self.storage.delete(path)
        except PathNotFound:
            pass

    def mount(self, target: RepositoryName, digest: str, source_project: str) -> Blob | None:
        """Link a blob of ``source_project`` into the target's project; None if there is none to mount.

        The caller has checked that the client may pull from the source.
        """
        self.policy.require_writable()
        project = self.policy.require_project(target)
        with read_cursor(self.db) as cur:
            blob = blobs.find_in_project_named(cur, source_project, digest)
        if blob is None:
            return None
        with self.db.transaction() as cur:
            quota = projects.lock_quota(cur, project.project_id)
            blobs.rescue(cur, blob)
            if blobs.link(cur, project.project_id, blob.blob_id):
                policy_rules.charge(cur, project, quota, blob.size)
        return blob

    def unlink(self, repository: RepositoryName, digest: str) -> None:
        """DELETE of a blob: the project stops seeing it and is no longer charged for it.

        The bytes stay until garbage collection finds no artifact and no project using them.
        """
        names.digest(digest)
        self.policy.require_writable()
        project = self.policy.require_project(repository)
        with self.db.transaction() as cur:
            projects.lock_quota(cur, project.project_id)  # same lock order as commit: quota, then links
            blob = blobs.find_in_project(cur, project.project_id, [digest]).get(digest)
            if blob is None or not blobs.unlink(cur, project.project_id, blob.blob_id):
                raise BlobUnknown(detail={"digest": digest})
            projects.add_used_storage(cur, project.project_id, -blob.size)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range, None to send everything.

    Raises RangeNotSatisfiable for a range outside the content or an inverted one; anything
    that is not a single byte range (several ranges, other units) is ignored, as RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    unsatisfiable = RangeNotSatisfiable(
        f"range {header!r} is outside the blob's {size} bytes", headers={"Content-Range": f"bytes */{size}"}
    )
    if not first:
        if not last or int(last) == 0:
            raise unsatisfiable
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, min(end, size - 1)
