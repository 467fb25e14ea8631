"""The storage driver contract every backend implements, and the errors drivers raise.

Paths are driver-relative, slash-separated, absolute-looking strings (``/v2/blobs/...``) made of
``[A-Za-z0-9._-]`` segments; the key layout itself belongs to :mod:`berth_registry.storage.paths`.
A driver stores bytes; it knows nothing of digests, repositories or the database.

Contract (after distribution's ``storagedriver.StorageDriver``):

* ``put_content`` and ``FileWriter.commit`` are atomic: a reader sees the old content, or no
  content, or the complete new content, never a prefix.
* ``writer(path, append=True)`` resumes content written by an earlier writer that was closed
  (not committed, not cancelled), possibly in another process; ``size`` says how much is there.
* ``reader(path, offset)`` streams from ``offset``; an offset past the end raises InvalidOffset.
* ``delete`` removes a file or a whole subtree; a missing path raises PathNotFound.
* ``redirect_url`` returns a URL a client may fetch directly, or None when the backend cannot.
* ``local_path`` returns the file behind ``path`` on the local disk, or None (only the filesystem
  driver has one); the registry uses it for nginx's X-Accel-Redirect fast path.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


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
    path: str
    size: int
    mod_time: dt.datetime
    is_dir: bool


class FileWriter(abc.ABC):
    """Streams bytes to a path; nothing is visible there until ``commit``."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes written so far, including those of earlier writers when appending."""

    @abc.abstractmethod
    def write(self, data: bytes) -> int:
        """Append ``data``; returns the number of bytes taken."""

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
        if exc_type is not None:
            self.close()


class StorageDriver(abc.ABC):
    """A place to keep bytes by path."""

    name: str = "base"

    @abc.abstractmethod
    def get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def put_content(self, path: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter: ...

    @abc.abstractmethod
    def stat(self, path: str) -> FileInfo: ...

    @abc.abstractmethod
    def list(self, path: str) -> list[str]:
        """Full paths of the direct children of the directory ``path``."""

    @abc.abstractmethod
    def move(self, source: str, destination: str) -> None:
        """Move content, replacing anything at ``destination``."""

    @abc.abstractmethod
    def delete(self, path: str) -> None: ...

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file and directory under ``path``, depth first."""
        for child in self.list(path):
            info = self.stat(child)
            yield info
            if info.is_dir:
                yield from self.walk(child)

    def redirect_url(self, path: str, method: str = "GET", expires_in: int = 1200) -> str | None:
        return None

    def local_path(self, path: str) -> Path | None:
        return None
