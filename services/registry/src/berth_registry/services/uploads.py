"""Blob upload sessions: POST starts one, PATCH appends, PUT finishes, DELETE cancels.

Bytes stream from the request to the storage driver in bounded reads while the digest is
computed; no database connection is held meanwhile. A body nginx already wrote to its upload
spool (:mod:`berth_registry.storage.spool`) is handed to the driver whole, which links or
copies it without Python reading it, and is then hashed from the page cache. The session row
(``blob_uploads``) keeps the offset and the hash state after every request, so another registry
process can continue or finish the upload after a restart. A writer holds a lease on the row
for the duration of a request, so two requests can never interleave bytes of one upload.

The storage driver's writer is the truth about how many bytes are stored. When it disagrees
with the row (a process died mid-chunk) the saved hash state is dropped and the finished
content is hashed again from storage: slower, never wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

from berth_registry import names
from berth_registry.db import read_cursor, uploads
from berth_registry.db.blobs import Blob
from berth_registry.db.uploads import Upload
from berth_registry.hashing import ResumableHash
from berth_registry.names import RepositoryName
from berth_registry.services.blobs import READ_SIZE, BlobService
from berth_registry.services.exceptions import DigestInvalid, RangeNotSatisfiable, SizeInvalid, UploadInvalid, UploadUnknown
from berth_registry.services.policy import Policy
from berth_registry.storage import paths
from berth_registry.storage.base import FileWriter, LocalFile, PathNotFound, StorageDriver

LEASE_SECONDS = 120.0
RENEW_AFTER_SECONDS = 30.0
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")


class UploadBusy(UploadInvalid):
    """Another request holds the session's writer lease."""


@dataclasses.dataclass(frozen=True)
class RequestBody:
    """What a PATCH, PUT or POST carries: a stream from the client, or a file nginx already received."""

    stream: BinaryIO | None
    length: int | None  # Content-Length (the file's size when spooled); None for a chunked stream
    file: LocalFile | None = None

    @classmethod
    def streamed(cls, stream: BinaryIO, content_length: int | None) -> RequestBody:
        return cls(stream, content_length)

    @classmethod
    def spooled(cls, file: LocalFile) -> RequestBody:
        return cls(None, file.size, file)


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where an upload stands: the client resumes at ``size``."""

    repository: str
    upload_id: uuid.UUID
    size: int

    @property
    def location(self) -> str:
        return upload_location(self.repository, self.upload_id)

    @property
    def range(self) -> str:
        # distribution answers "0-0" for an empty upload; clients expect the "0-" prefix.
        return f"0-{max(self.size - 1, 0)}"


def upload_location(repository: str, upload_id: uuid.UUID) -> str:
    return f"/v2/{repository}/blobs/uploads/{upload_id}"


def parse_content_range(value: str | None) -> tuple[int, int] | None:
    """``<start>-<end>`` (inclusive) of a chunk; raises UploadInvalid when malformed."""
    if value is None:
        return None
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise UploadInvalid(f"invalid Content-Range {value!r}; expected <start>-<end>")
    return int(match.group(1)), int(match.group(2))


@dataclasses.dataclass
class _Session:
    """A leased upload during one request; what to write back when the request ends."""

    upload: Upload
    owner: uuid.UUID
    size: int
    hash_state: bytes | None
    consumed: bool = False  # the session ended (finished or failed verification): delete the row
    row_deferred: bool = False  # ...but later: the row goes in the transaction that commits the blob
    renewed_at: float = dataclasses.field(default_factory=time.monotonic)


class UploadService:
    def __init__(self, db: Any, storage: StorageDriver, policy: Policy, blobs: BlobService) -> None:
        self.db = db
        self.storage = storage
        self.policy = policy
        self.blobs = blobs

    def start(self, repository: RepositoryName, username: str) -> Progress:
        """Open a session in the repository's project."""
        self.policy.require_writable()
        project = self.policy.require_project(repository)
        upload_id = uuid.uuid4()
        with self.db.transaction() as cur:
            uploads.create(cur, upload_id, project.project_id, repository.full, username)
        return Progress(repository.full, upload_id, 0)

    def progress(self, repository: RepositoryName, upload_id: str) -> Progress:
        """The session's offset (GET on the upload URL): storage's count, unless a write is in flight."""
        parsed = names.upload_id(upload_id)
        try:
            with self._lease(repository, parsed) as session:
                writer = self.storage.writer(self._data(parsed), append=True)
                try:
                    self._reconcile(session, writer.size)
                finally:
                    writer.close()
            return Progress(repository.full, parsed, session.size)
        except UploadBusy:
            with read_cursor(self.db) as cur:
                upload = uploads.get(cur, parsed, repository.full)
            if upload is None:
                raise UploadUnknown(detail={"upload": upload_id}) from None
            return Progress(repository.full, parsed, upload.size)

    def would_take_body(self, repository: RepositoryName, upload_id: str | None) -> bool:
        """Whether a body sent now to the session ``upload_id`` (None: a new single-POST upload)
        would be taken: the registry is writable, the project and the session exist.

        Asked before the proxy spools a large body, so that bodies the upload would refuse from
        its headers alone are never stored; checks after the body (digest, quota) come later.
        Raises the errors of the checks it makes (Denied, RepositoryUnknown, InvalidUploadId).
        """
        self.policy.require_writable()
        self.policy.require_project(repository)
        if upload_id is None:
            return True
        parsed = names.upload_id(upload_id)
        with read_cursor(self.db) as cur:
            return uploads.get(cur, parsed, repository.full) is not None

    def append(self, repository: RepositoryName, upload_id: str, body: RequestBody, content_range: str | None) -> Progress:
        """PATCH: add a chunk (with Content-Range) or a stream (without) to the session."""
        self.policy.require_writable()
        parsed = names.upload_id(upload_id)
        chunk = self._chunk(content_range, body.length)
        with self._lease(repository, parsed) as session:
            writer = self.storage.writer(self._data(parsed), append=True)
            try:
                self._reconcile(session, writer.size)
                self._check_start(repository, session, chunk)
                hasher = self._resume(session, None)
                self._receive(session, writer, hasher, body)
            finally:
                self._close(session, writer)
        return Progress(repository.full, parsed, session.size)

    def finish(
        self,
        repository: RepositoryName,
        upload_id: str,
        digest: str,
        body: RequestBody,
        content_range: str | None,
    ) -> Blob:
        """PUT ?digest=: take the last bytes, verify the digest, make the blob visible."""
        self.policy.require_writable()
        project = self.policy.require_project(repository)
        parsed = names.upload_id(upload_id)
        try:
            names.digest(digest)
        except names.InvalidDigest as exc:
            raise DigestInvalid(str(exc), detail={"digest": digest}) from None
        algorithm = digest.split(":", 1)[0]
        chunk = self._chunk(content_range, body.length)
        data = self._data(parsed)
        session: _Session | None = None
        try:
            with self._lease(repository, parsed) as session:
                writer = self.storage.writer(data, append=True)
                try:
                    self._reconcile(session, writer.size)
                    self._check_start(repository, session, chunk)
                    hasher = self._resume(session, algorithm)
                    hasher = self._receive(session, writer, hasher, body)
                    # From here on the session ends whatever the outcome (as in distribution).
                    session.consumed = True
                    if hasher is not None and hasher.digest() != digest:
                        writer.cancel()
                        raise DigestInvalid(detail={"digest": digest})
                    writer.commit()
                    session.row_deferred = True
                finally:
                    if not session.consumed:
                        self._close(session, writer)
            if hasher is None and self.blobs.digest_of(data, algorithm) != digest:
                raise DigestInvalid(detail={"digest": digest})
            blob = self.blobs.commit(project, digest, session.size, data, also=lambda cur: uploads.delete(cur, parsed))
            session.row_deferred = False
            return blob
        finally:
            if session is not None and session.consumed:
                if session.row_deferred:  # the blob was not committed: the session ends anyway
                    with self.db.transaction() as cur:
                        uploads.delete(cur, parsed)
                self._discard(parsed)

    def monolithic(self, repository: RepositoryName, username: str, digest: str, body: RequestBody) -> Blob:
        """POST ?digest= with the whole blob as body: a session that ends in the same request."""
        progress = self.start(repository, username)
        try:
            return self.finish(repository, str(progress.upload_id), digest, body, None)
        except BaseException:
            with contextlib.suppress(UploadUnknown, UploadInvalid):
                self.cancel(repository, str(progress.upload_id))
            raise

    def cancel(self, repository: RepositoryName, upload_id: str) -> None:
        """DELETE: end the session and drop its bytes."""
        self.policy.require_writable()
        parsed = names.upload_id(upload_id)
        with self._lease(repository, parsed) as session:
            session.consumed = True
        self._discard(parsed)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _data(upload_id: uuid.UUID) -> str:
        return paths.upload_data(str(upload_id))

    def _discard(self, upload_id: uuid.UUID) -> None:
        with contextlib.suppress(PathNotFound):
            self.storage.delete(paths.upload_dir(str(upload_id)))

    @staticmethod
    def _chunk(content_range: str | None, content_length: int | None) -> tuple[int, int] | None:
        chunk = parse_content_range(content_range)
        if chunk is not None and content_length is not None and chunk[1] - chunk[0] + 1 != content_length:
            raise SizeInvalid(f"Content-Range {content_range} does not match Content-Length {content_length}")
        return chunk

    @contextlib.contextmanager
    def _lease(self, repository: RepositoryName, upload_id: uuid.UUID) -> Iterator[_Session]:
        """Hold the session's writer lease for one request; write progress back at the end."""
        owner = uuid.uuid4()
        with self.db.transaction() as cur:
            upload = uploads.claim(cur, upload_id, repository.full, owner, LEASE_SECONDS)
        if upload is None:
            with read_cursor(self.db) as cur:
                exists = uploads.get(cur, upload_id, repository.full) is not None
            if exists:
                raise UploadBusy("the upload is being written by another request; retry when it ends")
            raise UploadUnknown(detail={"upload": str(upload_id)})
        session = _Session(upload, owner, upload.size, upload.hash_state)
        try:
            yield session
        finally:
            if not session.row_deferred:
                with self.db.transaction() as cur:
                    if session.consumed:
                        uploads.delete(cur, upload_id)
                    else:
                        uploads.release(cur, upload_id, owner, session.size, session.hash_state)

    @staticmethod
    def _reconcile(session: _Session, stored: int) -> None:
        """Adopt storage's size; a saved state for another offset cannot be used any more."""
        if stored != session.size:
            session.size = stored
            session.hash_state = None

    @staticmethod
    def _check_start(repository: RepositoryName, session: _Session, chunk: tuple[int, int] | None) -> None:
        if chunk is not None and chunk[0] != session.size:
            progress = Progress(repository.full, session.upload.upload_id, session.size)
            raise RangeNotSatisfiable(
                f"chunk starts at {chunk[0]} but the upload has {session.size} bytes",
                headers={"Location": progress.location, "Range": progress.range, "Docker-Upload-UUID": str(progress.upload_id)},
            )

    @staticmethod
    def _resume(session: _Session, algorithm: str | None) -> ResumableHash | None:
        """The hash to continue with, or None when the content must be hashed again at the end."""
        if session.size == 0:
            return ResumableHash(algorithm or "sha256")
        hasher = ResumableHash.restore(session.hash_state, session.size)
        if hasher is None or (algorithm is not None and hasher.algorithm != algorithm):
            return None
        return hasher

    def _receive(self, session: _Session, writer: FileWriter, hasher: ResumableHash | None, body: RequestBody) -> ResumableHash | None:
        """Copy the request body to storage in bounded reads, hashing as it goes."""
        if body.file is not None:
            return self._receive_file(session, writer, hasher, body.file)
        stream, content_length = body.stream, body.length
        received = 0
        in_step = True  # whether the hash has seen exactly the bytes the writer took
        try:
            while chunk := stream.read(READ_SIZE):
                in_step = False
                writer.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                in_step = True
                received += len(chunk)
                self._renew_if_due(session)
        finally:
            session.size = writer.size
            session.hash_state = hasher.state() if hasher is not None and in_step and hasher.offset == writer.size else None
        if content_length is not None and received != content_length:
            raise SizeInvalid(f"received {received} bytes, Content-Length said {content_length}")
        return hasher

    def _receive_file(self, session: _Session, writer: FileWriter, hasher: ResumableHash | None, source: LocalFile) -> ResumableHash | None:
        """Give a spooled body to storage whole, then hash it from the page cache.

        Storage goes first so that the filesystem driver's background sync writes the bytes
        to disk while they are hashed; the digest is checked before anything becomes visible.
        """
        try:
            writer.append_file(source)
            if hasher is not None:
                offset = 0
                while offset < source.size:
                    chunk = os.pread(source.fd, min(READ_SIZE, source.size - offset), offset)
                    if not chunk:
                        raise UploadInvalid("the spooled upload body is shorter than nginx reported")
                    hasher.update(chunk)
                    offset += len(chunk)
                    self._renew_if_due(session)
        finally:
            session.size = writer.size
            session.hash_state = hasher.state() if hasher is not None and hasher.offset == writer.size else None
        return hasher

    def _renew_if_due(self, session: _Session) -> None:
        now = time.monotonic()
        if now - session.renewed_at < RENEW_AFTER_SECONDS:
            return
        with self.db.transaction() as cur:
            still_ours = uploads.renew(cur, session.upload.upload_id, session.owner, LEASE_SECONDS)
        if not still_ours:
            raise UploadInvalid("the upload was taken over by another request")
        session.renewed_at = now

    @staticmethod
    def _close(session: _Session, writer: FileWriter) -> None:
        """Close the writer keeping the bytes resumable; if flushing fails, trust storage later."""
        try:
            writer.close()
        except Exception:
            session.hash_state = None
            raise
