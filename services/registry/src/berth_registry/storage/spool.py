"""Upload bodies that nginx received for the registry and wrote to a file (the upload spool).

For large uploads with the filesystem driver, nginx first asks the registry whether the upload
would take the body (``auth_request``: the token may push, the session exists), then reads the
whole body into a file of its ``client_body_temp_path`` (the spool folder, on the same
filesystem as the storage root) and passes only the request line and headers on, naming the
file in ``X-Berth-Body-File``. The registry hard-links the file into the upload (or copies it
inside the kernel when it follows earlier chunks) and reads it once, from the page cache, to
hash it; no worker thread waits on a slow client. nginx deletes its name for the file when the
request ends; a link the registry made keeps the data.

The header is trusted only when the registry is configured with the spool folder, and only for
a regular file directly inside that folder: nginx overwrites whatever a client sends under that
name, and the registry listens on loopback or the internal network only.
"""

from __future__ import annotations

import os
import re
import stat
from types import TracebackType

from berth_registry.storage.base import LocalFile, StorageError

HEADER = "X-Berth-Body-File"
# nginx names its temporary files with ten digits (more once the counter grows).
_NAME = re.compile(r"[0-9]{1,20}")


class SpoolRefused(StorageError):
    """The named body file is not a file nginx wrote to the spool folder."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__("spool", path, message)


class SpooledBody:
    """An open spooled body: ``file`` is what writers and hashing read; close it when done."""

    def __init__(self, path: str, fd: int, size: int) -> None:
        self.file = LocalFile(path, fd, size)
        self._open = True

    @property
    def size(self) -> int:
        return self.file.size

    def close(self) -> None:
        if self._open:
            self._open = False
            os.close(self.file.fd)

    def __enter__(self) -> SpooledBody:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Spool:
    """The spool folder nginx writes upload bodies to."""

    def __init__(self, directory: str) -> None:
        if not directory or not os.path.isabs(directory):
            raise ValueError(f"the upload spool folder must be an absolute path, got {directory!r}")
        self.directory = os.path.realpath(directory)

    def open(self, named: str) -> SpooledBody:
        """Open the body file ``named`` (the header's value); raises SpoolRefused for anything else.

        The file must sit directly in the spool folder under nginx's kind of name, be reached
        without symbolic links and be a regular file; the descriptor is what everything later
        reads, so the checks hold for the bytes used.
        """
        folder, name = os.path.split(named)
        if not os.path.isabs(named) or not _NAME.fullmatch(name) or os.path.realpath(folder) != self.directory:
            raise SpoolRefused(named, f"not a body file in the upload spool {self.directory}")
        try:
            # O_NONBLOCK: opening a FIFO put there would otherwise wait for a writer.
            fd = os.open(os.path.join(self.directory, name), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:
            raise SpoolRefused(named, f"cannot open the spooled body: {error.strerror or error}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise SpoolRefused(named, "the spooled body is not a regular file")
        return SpooledBody(os.path.join(self.directory, name), fd, info.st_size)
