"""The S3 driver (AWS, MinIO, Ceph RGW, ...) through boto3.

Path ``/a/b`` is the object ``<root_directory>/a/b`` in ``bucket``. Small content is one
PutObject; a writer streams through a multipart upload in parts of ``chunk_size`` (at least
5 MiB, S3's minimum for every part but the last), holding at most one chunk in memory.

Pending content (closed, neither committed nor cancelled) is kept in two places, both findable
by any process:

* the multipart upload at the final key, whose parts are all full chunks, and
* the *tail*: the bytes after the last full chunk, stored as the object ``<key>~tail`` (``~``
  never occurs in a valid path, so listings skip it). S3 cannot read back the parts of an
  unfinished upload, and a small part may not be followed by others, so the tail cannot be a
  part. Its metadata names the upload and the part count it follows; a tail whose part count
  is behind the upload's was already folded into a part (a writer died between the two steps)
  and is ignored.

``writer(append=True)`` lists the multipart uploads for the key, lists their parts, loads the
tail into the buffer and carries on, combining the tail with new bytes into the next full part,
much as distribution's s3-aws driver does (it instead completes the upload and copies it back,
which makes pending content visible). The multipart upload is started only when the first full
chunk is ready, so a blob smaller than a chunk costs a single PutObject. ``commit`` sends the
buffer as the last part and completes the upload; ``cancel`` aborts it and deletes the tail.

``move`` is a server-side copy (CopyObject, or UploadPartCopy in parallel above
``multipart_copy_threshold``, 5 GiB, CopyObject's limit) and a delete. ``redirect_url`` presigns
a GET (or HEAD) when ``redirect`` is on. Reads stream the response body, with a Range header for
offsets. A multipart upload has at most 10,000 parts, so one blob is at most 10,000 chunks.

boto3 is configured with checksums only where S3 requires them (newer boto3 defaults add CRC
headers that several S3-compatible stores reject) and path-style addressing for custom
endpoints. Empty credentials mean boto3's own chain (environment, instance profile, IRSA).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import io
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
import botocore.config
import botocore.exceptions

from berth_registry.storage.base import (
    EPOCH,
    FileInfo,
    FileWriter,
    InvalidOffset,
    PathNotFound,
    StorageDriver,
    StorageError,
    Unsupported,
    validate_path,
)

MIB = 1024 * 1024
MIN_CHUNK_SIZE = 5 * MIB
MAX_SINGLE_COPY = 5 * 1024 * MIB
TAIL_SUFFIX = "~tail"
HIDDEN_MARK = "~"
# S3 DeleteObjects takes at most this many keys per request.
_DELETE_BATCH = 1000
_NOT_FOUND_CODES = {"NoSuchKey", "NotFound", "404", "NoSuchUpload"}


@dataclasses.dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    size: int


class S3Driver(StorageDriver):
    """Stores each path as an object under ``root_directory`` in ``bucket``."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        root_directory: str = "",
        chunk_size: int = 10 * MIB,
        redirect: bool = False,
        multipart_copy_threshold: int = MAX_SINGLE_COPY,
        multipart_copy_chunk_size: int = 512 * MIB,
        multipart_copy_concurrency: int = 8,
        max_pool_connections: int = 32,
    ) -> None:
        if not bucket:
            raise ValueError("bucket is required")
        if chunk_size < MIN_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be at least {MIN_CHUNK_SIZE} (S3's minimum part size)")
        if not MIN_CHUNK_SIZE <= multipart_copy_chunk_size <= MAX_SINGLE_COPY:
            raise ValueError(f"multipart_copy_chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_SINGLE_COPY}")
        if not 0 < multipart_copy_threshold <= MAX_SINGLE_COPY:
            raise ValueError(f"multipart_copy_threshold must be between 1 and {MAX_SINGLE_COPY}")
        root = root_directory.strip("/")
        if root:
            validate_path("/" + root, self.name)
        self.bucket = bucket
        self.prefix = f"{root}/" if root else ""
        self.chunk_size = chunk_size
        self.redirect = redirect
        self.multipart_copy_threshold = multipart_copy_threshold
        self.multipart_copy_chunk_size = multipart_copy_chunk_size
        self.multipart_copy_concurrency = max(1, multipart_copy_concurrency)
        config = botocore.config.Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max_pool_connections,
            connect_timeout=10,
            read_timeout=120,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session of our own: boto3's default session is not safe to share between threads.
        self.client = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3Driver(bucket={self.bucket!r}, prefix={self.prefix!r})"

    # -- helpers -----------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return self.prefix + path[1:]

    def _dir_prefix(self, path: str) -> str:
        """The key prefix of everything inside the directory ``path``."""
        return self.prefix if path == "/" else self._key(path) + "/"

    def _path(self, key: str) -> str:
        return "/" + key[len(self.prefix) :]

    @contextlib.contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Translate boto3's exceptions about ``path`` into the driver's errors."""
        try:
            yield
        except botocore.exceptions.ClientError as error:
            raise self._client_error(path, error) from None
        except botocore.exceptions.BotoCoreError as error:
            raise StorageError(self.name, path, f"{type(error).__name__}: {error}") from None

    def _client_error(self, path: str, error: botocore.exceptions.ClientError) -> StorageError:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        if code == "NoSuchBucket":
            return StorageError(self.name, path, f"bucket {self.bucket!r} does not exist")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND_CODES or status == 404:
            return PathNotFound(self.name, path)
        return StorageError(self.name, path, f"S3 {code or status}: {details.get('Message', '')}".rstrip(": "))

    @staticmethod
    def _code(error: botocore.exceptions.ClientError) -> str:
        return str(error.response.get("Error", {}).get("Code", ""))

    def _pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        yield from self.client.get_paginator(operation).paginate(Bucket=self.bucket, **params)

    def _visible_keys(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Objects under ``prefix`` that are content: no tails, no directory markers."""
        for page in self._pages("list_objects_v2", Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if HIDDEN_MARK not in key[len(self.prefix) :] and not key.endswith("/"):
                    yield item

    def _uploads(self, key: str, *, subtree: bool = False) -> list[dict[str, Any]]:
        """Unfinished multipart uploads of ``key`` (and, with ``subtree``, of keys under ``key/``)."""
        found = []
        for page in self._pages("list_multipart_uploads", Prefix=key):
            for upload in page.get("Uploads", []):
                if upload["Key"] == key or (subtree and upload["Key"].startswith(key + "/")):
                    found.append(upload)
        return found

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except botocore.exceptions.ClientError as error:
            if self._code(error) != "NoSuchUpload":  # already gone: what we wanted
                raise

    def _discard_pending(self, key: str) -> None:
        """Abort every unfinished upload of ``key`` and delete its tail."""
        for upload in self._uploads(key):
            self._abort(key, upload["UploadId"])
        self.client.delete_object(Bucket=self.bucket, Key=key + TAIL_SUFFIX)

    def _delete_keys(self, keys: Iterator[str]) -> int:
        """Delete the keys in batches as they come (a subtree may be large); returns how many."""
        deleted = 0
        while batch := list(itertools.islice(keys, _DELETE_BATCH)):
            objects = [{"Key": key} for key in batch]
            response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(self.name, self._path(first["Key"]), f"S3 {first.get('Code')}: {first.get('Message', '')}")
            deleted += len(batch)
        return deleted

    # -- the contract ------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        with self._errors(path):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
            with response["Body"] as body:
                return body.read()

    def put_content(self, path: str, data: bytes) -> None:
        with self._errors(path):
            self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=data)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        key = self._key(path)
        if offset < 0:
            raise InvalidOffset(self.name, path, f"negative offset {offset}")
        with self._errors(path):
            try:
                if offset:
                    response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-")
                else:
                    response = self.client.get_object(Bucket=self.bucket, Key=key)
            except botocore.exceptions.ClientError as error:
                if self._code(error) != "InvalidRange":
                    raise
                # S3 refuses a range starting at the very end; that offset is valid and empty.
                size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
                if offset == size:
                    return io.BytesIO(b"")
                raise InvalidOffset(self.name, path, f"offset {offset} outside 0..{size}") from None
        return response["Body"]

    def writer(self, path: str, append: bool = False) -> FileWriter:
        key = self._key(path)
        with self._errors(path):
            if not append:
                self._discard_pending(key)
                return _S3Writer(self, path, key, None, [], bytearray(), tail_loaded=False)
            return self._resume(path, key)

    def _resume(self, path: str, key: str) -> _S3Writer:
        uploads = sorted(self._uploads(key), key=lambda upload: upload["Initiated"])
        upload_id = None
        parts: list[_Part] = []
        if uploads:
            # Only one should exist; older ones are leftovers of writers that died mid-way.
            *stale, newest = uploads
            for upload in stale:
                self._abort(key, upload["UploadId"])
            upload_id = newest["UploadId"]
            for page in self._pages("list_parts", Key=key, UploadId=upload_id):
                parts.extend(_Part(p["PartNumber"], p["ETag"], p["Size"]) for p in page.get("Parts", []))
            parts.sort(key=lambda part: part.number)
            if [part.number for part in parts] != list(range(1, len(parts) + 1)):
                raise StorageError(self.name, path, "pending upload has gaps in its parts")

        tail_key = key + TAIL_SUFFIX
        buffer = bytearray()
        tail_loaded = False
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=tail_key)
        except botocore.exceptions.ClientError as error:
            if self._code(error) not in _NOT_FOUND_CODES:
                raise
        else:
            metadata = response.get("Metadata", {})
            # The tail follows the parts it was written after; with no parts yet it may predate
            # the upload (the upload starts with the first full chunk, which did not get sent).
            follows_parts = metadata.get("parts") == str(len(parts))
            same_upload = not parts or metadata.get("upload-id", "") == upload_id
            with response["Body"] as body:
                if follows_parts and same_upload:
                    buffer += body.read()
                    tail_loaded = True
            if not tail_loaded:
                # Its bytes are already in a part (or belong to an aborted upload).
                self.client.delete_object(Bucket=self.bucket, Key=tail_key)
        return _S3Writer(self, path, key, upload_id, parts, buffer, tail_loaded=tail_loaded)

    def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo(path, 0, EPOCH, is_dir=True)
        with self._errors(path):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
                return FileInfo(path, head["ContentLength"], head["LastModified"], is_dir=False)
            except botocore.exceptions.ClientError as error:
                if not isinstance(self._client_error(path, error), PathNotFound):
                    raise
            if next(self._visible_keys(self._dir_prefix(path)), None) is not None:
                return FileInfo(path, 0, EPOCH, is_dir=True)
        raise PathNotFound(self.name, path)

    def list(self, path: str) -> list[str]:
        prefix = self._dir_prefix(path)
        children: set[str] = set()
        with self._errors(path):
            for page in self._pages("list_objects_v2", Prefix=prefix, Delimiter="/"):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if name and HIDDEN_MARK not in name:
                        children.add(self._path(item["Key"]))
                for common in page.get("CommonPrefixes", []):
                    children.add(self._path(common["Prefix"].rstrip("/")))
        if not children and path != "/":
            raise PathNotFound(self.name, path)
        return sorted(children)

    def walk(self, path: str) -> Iterator[FileInfo]:
        # One flat listing instead of a list and a stat per directory. Keys come sorted, and all
        # keys under a directory are contiguous, so each directory is reported before its files.
        prefix = self._dir_prefix(path)
        seen: set[str] = set()
        found = False
        with self._errors(path):
            for item in self._visible_keys(prefix):
                found = True
                segments = item["Key"][len(prefix) :].split("/")
                for depth in range(1, len(segments)):
                    directory = self._path(prefix + "/".join(segments[:depth]))
                    if directory not in seen:
                        seen.add(directory)
                        yield FileInfo(directory, 0, EPOCH, is_dir=True)
                yield FileInfo(self._path(item["Key"]), item["Size"], item["LastModified"], is_dir=False)
        if not found and path != "/":
            raise PathNotFound(self.name, path)

    def move(self, source: str, destination: str) -> None:
        source_key = self._key(source)
        destination_key = self._key(destination)
        with self._errors(source):
            size = self.client.head_object(Bucket=self.bucket, Key=source_key)["ContentLength"]
        with self._errors(destination):
            if size <= self.multipart_copy_threshold:
                self.client.copy_object(
                    Bucket=self.bucket, Key=destination_key, CopySource={"Bucket": self.bucket, "Key": source_key}
                )
            else:
                self._multipart_copy(source_key, destination_key, size)
        with self._errors(source):
            self.client.delete_object(Bucket=self.bucket, Key=source_key)

    def _multipart_copy(self, source_key: str, destination_key: str, size: int) -> None:
        """Copy an object too large for CopyObject, ranges in parallel, server side."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=destination_key)["UploadId"]
        step = self.multipart_copy_chunk_size
        ranges = [(number, start, min(start + step, size) - 1) for number, start in enumerate(range(0, size, step), start=1)]

        def copy_part(part: tuple[int, int, int]) -> dict[str, Any]:
            number, first, last = part
            response = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=destination_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                CopySourceRange=f"bytes={first}-{last}",
            )
            return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

        try:
            with concurrent.futures.ThreadPoolExecutor(self.multipart_copy_concurrency) as pool:
                completed = list(pool.map(copy_part, ranges))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=destination_key, UploadId=upload_id, MultipartUpload={"Parts": completed}
            )
        except BaseException:
            self._abort(destination_key, upload_id)
            raise

    def delete(self, path: str) -> None:
        key = self._key(path)
        with self._errors(path):
            # Listing by the bare key also returns siblings that merely share its prefix (key2).
            keys = (
                item["Key"]
                for page in self._pages("list_objects_v2", Prefix=key)
                for item in page.get("Contents", [])
                if item["Key"] in (key, key + TAIL_SUFFIX) or item["Key"].startswith(key + "/")
            )
            deleted = self._delete_keys(keys)
            uploads = self._uploads(key, subtree=True)
            for upload in uploads:
                self._abort(upload["Key"], upload["UploadId"])
        if not deleted and not uploads:
            raise PathNotFound(self.name, path)

    def redirect_url(self, path: str, method: str = "GET", expires_in: int = 1200) -> str | None:
        if not self.redirect:
            return None
        operation = {"GET": "get_object", "HEAD": "head_object"}.get(method.upper())
        if operation is None:
            raise Unsupported(self.name, path, f"no presigned URL for {method}")
        with self._errors(path):
            return self.client.generate_presigned_url(
                operation, Params={"Bucket": self.bucket, "Key": self._key(path)}, ExpiresIn=expires_in
            )


class _S3Writer(FileWriter):
    """Fills one chunk-sized buffer and uploads it as the next part each time it is full."""

    def __init__(
        self,
        driver: S3Driver,
        path: str,
        key: str,
        upload_id: str | None,
        parts: list[_Part],
        buffer: bytearray,
        *,
        tail_loaded: bool,
    ) -> None:
        self._driver = driver
        self._client = driver.client
        self._bucket = driver.bucket
        self._path = path
        self._key = key
        self._upload_id = upload_id
        self._parts = parts
        self._uploaded = sum(part.size for part in parts)
        self._buffer = buffer
        # True while the tail object holds exactly what the buffer holds (nothing to save).
        self._tail_current = tail_loaded
        self._tail_exists = tail_loaded
        self._done = False

    @property
    def size(self) -> int:
        return self._uploaded + len(self._buffer)

    def _check_open(self) -> None:
        if self._done:
            raise ValueError(f"writer for {self._path} is closed")

    def write(self, data: bytes) -> int:
        self._check_open()
        chunk_size = self._driver.chunk_size
        view = memoryview(data).cast("B")
        length = len(view)
        if length:
            self._tail_current = False
        with self._driver._errors(self._path):
            # Copy each byte once, into the buffer; a full buffer is sent as it is. (It can hold
            # more than a chunk only after a failed upload; then it goes out as one larger part.)
            while True:
                if len(self._buffer) >= chunk_size:
                    self._upload_part()
                if not view:
                    break
                room = chunk_size - len(self._buffer)
                self._buffer += view[:room]
                view = view[room:]
        return length

    def _upload_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)["UploadId"]
        number = len(self._parts) + 1
        response = self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=self._buffer
        )
        self._parts.append(_Part(number, response["ETag"], len(self._buffer)))
        self._uploaded += len(self._buffer)
        # A new buffer rather than clear(): botocore may still hold a view of the old one.
        self._buffer = bytearray()

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        tail_key = self._key + TAIL_SUFFIX
        with self._driver._errors(self._path):
            if self._buffer and not self._tail_current:
                metadata = {"upload-id": self._upload_id or "", "parts": str(len(self._parts))}
                self._client.put_object(Bucket=self._bucket, Key=tail_key, Body=self._buffer, Metadata=metadata)
            elif not self._buffer and self._tail_exists:
                self._client.delete_object(Bucket=self._bucket, Key=tail_key)
        self._buffer = bytearray()

    def commit(self) -> None:
        self._check_open()
        self._done = True
        with self._driver._errors(self._path):
            if self._upload_id is None:
                self._client.put_object(Bucket=self._bucket, Key=self._key, Body=self._buffer)
            else:
                if self._buffer:
                    self._upload_part()  # the last part may be smaller than the minimum
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in self._parts]},
                )
            if self._tail_exists:
                self._client.delete_object(Bucket=self._bucket, Key=self._key + TAIL_SUFFIX)
        self._buffer = bytearray()

    def cancel(self) -> None:
        self._check_open()
        self._done = True
        self._buffer = bytearray()
        with self._driver._errors(self._path):
            self._driver._discard_pending(self._key)
