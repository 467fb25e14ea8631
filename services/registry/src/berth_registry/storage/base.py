"""The storage driver contract every backend implements, the errors drivers raise, and the checking wrapper.

Paths are driver-relative, slash-separated, absolute-looking strings (``/docker/registry/v2/...``)
made of ``[A-Za-z0-9._-]`` segments; the key layout itself belongs to
:mod:`berth_registry.storage.paths`. A driver stores bytes; it knows nothing of digests,
repositories or the database.

Contract (after distribution's ``storagedriver.StorageDriver``):

* ``put_content`` and ``FileWriter.commit`` are atomic: a reader sees the old content, or no
  content, or the complete new content, never a prefix.
* Content being written is *pending*: it is invisible to ``get_content``, ``reader``, ``stat``,
  ``list`` and ``walk`` until ``commit``. Whether a directory that holds only pending content
  shows up in ``list`` is backend-specific; nothing may depend on it.
* ``writer(path, append=True)`` resumes the pending content of an earlier writer that was closed
  (not committed, not cancelled), possibly in another process; ``size`` says how much is there.
  With nothing pending it starts empty. ``writer(path)`` without ``append`` discards any pending
  content at the path first. Committed content at the path stays readable until the next commit.
* ``reader(path, offset)`` streams from ``offset``; an offset past the end raises InvalidOffset.
* ``move`` moves one file (not a directory) and replaces the destination.
* ``delete`` removes a file or a whole subtree, pending content included; it raises PathNotFound
  only when there was nothing at all to delete.
* Directories exist implicitly while they hold committed content; there is no mkdir.
* ``redirect_url`` returns a URL a client may fetch directly, or None when the backend cannot
  (or redirects are switched off).
* ``local_path`` returns the file behind ``path`` on the local disk, or None (only the filesystem
  driver has one); the registry uses it for nginx's X-Accel-Redirect fast path.
* ``FileWriter.append_file`` appends a whole local file (an upload body nginx spooled to disk);
  a driver may take the bytes any way it likes (the filesystem driver hard-links or copies in
  the kernel) as long as the result equals ``write`` of the same bytes.

:class:`CheckedDriver` wraps every driver that :func:`berth_registry.storage.factory.create`
builds: it rejects malformed paths before a backend sees them (so no path can reach outside the
root) and logs operations slower than a threshold.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")

# One segment of a path; "." and ".." match too and are refused separately.
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
# Operations slower than this are logged (seconds).
DEFAULT_SLOW_SECONDS = 2.0
# Bounded reads when a local file is streamed into a writer.
FILE_COPY_CHUNK = 1024 * 1024


class StorageError(Exception):
    """Base of driver errors; carries the driver's name."""

    def __init__(self, driver: str, path: str = "", message: str = "") -> None:
        self.driver = driver
        self.path = path
        super().__init__(f"{driver}: {message or type(self).__name__}" + (f": {path}" if path else ""))


class PathNotFound(StorageError):
    """No content at the path."""


class InvalidPath(StorageError):
    """The path is malformed or reaches outside the driver's root."""


class InvalidOffset(StorageError):
    """A read or resumed write asked for an offset past the end of the content."""


class Unsupported(StorageError):
    """The backend cannot do this operation."""


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What ``stat`` and ``walk`` report. Directories have size 0; their ``mod_time`` is whatever
    the backend knows (object stores have none and report the epoch)."""

    path: str
    size: int
    mod_time: dt.datetime
    is_dir: bool


EPOCH = dt.datetime.fromtimestamp(0, dt.UTC)


@dataclasses.dataclass(frozen=True)
class LocalFile:
    """A complete file on this machine that a writer may take bytes from (``FileWriter.append_file``).

    ``fd`` is an open, readable descriptor of the file (the caller owns and closes it) and
    ``size`` its length; ``path`` names the same file, so that a driver on the same filesystem
    may hard-link it rather than copy it, after checking the link reaches the very file behind
    ``fd``. The file is handed over: a driver never moves or removes the caller's name for it,
    but once it is linked, later writes to the pending content change it too, so the caller
    must not rely on its content after the call (an upload body nginx spooled is discarded).
    """

    path: str
    fd: int
    size: int


def validate_path(path: str, driver: str, *, allow_root: bool = False) -> str:
    """Return ``path`` if it is ``/seg/seg...`` of ``[A-Za-z0-9._-]`` segments, else raise InvalidPath.

    ``.`` and ``..`` segments, empty segments (``//``, a trailing ``/``) and anything not starting
    with ``/`` are refused. ``allow_root`` admits ``/`` itself (for list and walk).
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidPath(driver, repr(path), "path must be a string starting with /")
    if path == "/":
        if allow_root:
            return path
        raise InvalidPath(driver, path, "the root is not a file")
    for segment in path[1:].split("/"):
        if segment in (".", "..") or not _SEGMENT.fullmatch(segment):
            raise InvalidPath(driver, path, "segments must be [A-Za-z0-9._-]+ and not . or ..")
    return path


class FileWriter(abc.ABC):
    """Streams bytes to a path; nothing is visible there until ``commit``.

    ``close``, ``commit`` and ``cancel`` each end the writer; ``close`` after any of them does
    nothing, any other call raises ValueError (as a closed Python file does).
    """

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes written so far, including those of earlier writers when appending."""

    @abc.abstractmethod
    def write(self, data: bytes) -> int:
        """Append ``data``; returns the number of bytes taken (always all of them)."""

    def append_file(self, source: LocalFile) -> None:
        """Append the ``source.size`` bytes of ``source`` (from its start), as ``write`` would.

        This default streams them through ``write`` in bounded reads, so memory stays flat.
        Raises StorageError if the file holds fewer bytes than ``source.size``; the writer may
        then hold part of them (``size`` says how many), as after a failed ``write``.
        """
        offset = 0
        while offset < source.size:
            chunk = os.pread(source.fd, min(FILE_COPY_CHUNK, source.size - offset), offset)
            if not chunk:
                raise StorageError("local", source.path, f"file ended after {offset} of {source.size} bytes")
            self.write(chunk)
            offset += len(chunk)

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release; the content stays resumable with ``writer(path, append=True)``."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the content visible at the path (atomically) and close."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Discard everything written, by this writer and by earlier ones, and close."""

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Leaving the block without commit or cancel keeps the content resumable, even on an
        # error: a client that drops a chunked upload can continue from the reported offset.
        self.close()


class StorageDriver(abc.ABC):
    """A place to keep bytes by path."""

    name: str = "base"

    @abc.abstractmethod
    def get_content(self, path: str) -> bytes:
        """The whole content at ``path`` (for small files); raises PathNotFound."""

    @abc.abstractmethod
    def put_content(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path`` atomically, replacing what was there."""

    @abc.abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        """A stream of the content from ``offset``; the caller closes it.

        Raises PathNotFound, or InvalidOffset when ``offset`` is negative or past the end.
        """

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer for ``path``; with ``append`` it resumes pending content (see the module doc)."""

    @abc.abstractmethod
    def stat(self, path: str) -> FileInfo:
        """Size and kind of the file or directory at ``path``; raises PathNotFound."""

    @abc.abstractmethod
    def list(self, path: str) -> list[str]:
        """Full paths of the direct children of the directory ``path``, sorted; raises PathNotFound."""

    @abc.abstractmethod
    def move(self, source: str, destination: str) -> None:
        """Move the file ``source`` to ``destination``, replacing anything there; raises PathNotFound."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Remove the file or subtree at ``path``, pending content included; raises PathNotFound."""

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file and directory under ``path``, depth first: a directory before its contents."""
        for child in self.list(path):
            info = self.stat(child)
            yield info
            if info.is_dir:
                yield from self.walk(child)

    def redirect_url(self, path: str, method: str = "GET", expires_in: int = 1200) -> str | None:
        """A URL a client may use directly for ``method`` on ``path``, or None."""
        return None

    def local_path(self, path: str) -> Path | None:
        """The local file behind ``path`` (not checked to exist), or None."""
        return None


class CheckedDriver(StorageDriver):
    """Wraps a driver: validates every path before the backend sees it, logs slow operations.

    Readers are returned unwrapped (the filesystem driver's are plain files that the registry
    may hand on); writers are wrapped so that slow writes, commits and cancels are logged too.
    """

    def __init__(self, inner: StorageDriver, slow_seconds: float = DEFAULT_SLOW_SECONDS) -> None:
        self.inner = inner
        self.name = inner.name
        self.slow_seconds = slow_seconds

    def __repr__(self) -> str:
        return f"CheckedDriver({self.inner!r})"

    def _timed(self, operation: str, path: str, call: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return call()
        finally:
            elapsed = time.monotonic() - started
            if elapsed >= self.slow_seconds:
                log.warning("storage_slow_operation", driver=self.name, operation=operation, path=path, seconds=round(elapsed, 3))

    def _check(self, path: str, *, allow_root: bool = False) -> str:
        return validate_path(path, self.name, allow_root=allow_root)

    def get_content(self, path: str) -> bytes:
        self._check(path)
        return self._timed("get_content", path, lambda: self.inner.get_content(path))

    def put_content(self, path: str, data: bytes) -> None:
        self._check(path)
        self._timed("put_content", path, lambda: self.inner.put_content(path, data))

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        self._check(path)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidOffset(self.name, path, f"offset must be a non-negative integer, got {offset!r}")
        return self._timed("reader", path, lambda: self.inner.reader(path, offset))

    def writer(self, path: str, append: bool = False) -> FileWriter:
        self._check(path)
        inner = self._timed("writer", path, lambda: self.inner.writer(path, append))
        return _CheckedWriter(self, path, inner)

    def stat(self, path: str) -> FileInfo:
        self._check(path, allow_root=True)
        return self._timed("stat", path, lambda: self.inner.stat(path))

    def list(self, path: str) -> list[str]:
        self._check(path, allow_root=True)
        return self._timed("list", path, lambda: self.inner.list(path))

    def move(self, source: str, destination: str) -> None:
        self._check(source)
        self._check(destination)
        self._timed("move", f"{source} -> {destination}", lambda: self.inner.move(source, destination))

    def delete(self, path: str) -> None:
        self._check(path)
        self._timed("delete", path, lambda: self.inner.delete(path))

    def walk(self, path: str) -> Iterator[FileInfo]:
        self._check(path, allow_root=True)
        return self.inner.walk(path)

    def redirect_url(self, path: str, method: str = "GET", expires_in: int = 1200) -> str | None:
        self._check(path)
        return self.inner.redirect_url(path, method, expires_in)

    def local_path(self, path: str) -> Path | None:
        self._check(path)
        return self.inner.local_path(path)


class _CheckedWriter(FileWriter):
    """Delegates to the backend's writer, timing each call."""

    def __init__(self, driver: CheckedDriver, path: str, inner: FileWriter) -> None:
        self._driver = driver
        self._path = path
        self._inner = inner

    @property
    def size(self) -> int:
        return self._inner.size

    def write(self, data: bytes) -> int:
        return self._driver._timed("write", self._path, lambda: self._inner.write(data))

    def append_file(self, source: LocalFile) -> None:
        self._driver._timed("append_file", self._path, lambda: self._inner.append_file(source))

    def close(self) -> None:
        self._driver._timed("close", self._path, self._inner.close)

    def commit(self) -> None:
        self._driver._timed("commit", self._path, self._inner.commit)

    def cancel(self) -> None:
        self._driver._timed("cancel", self._path, self._inner.cancel)
