"""The filesystem driver: files under one root directory, atomic commits by rename.

Path ``/a/b/c`` is the file ``<root>/a/b/c``. Content being written lives next to its final name
in ``c~partial`` (``~`` cannot occur in a valid path, so no real file can collide with it and
listings skip it); ``commit`` syncs its data (fdatasync), renames it over ``c``, which is atomic
on POSIX, and syncs the directory; ``writer(append=True)`` reopens it, from this process or any
other. ``put_content`` does the same with a uniquely named ``c~tmp-<hex>``. Directories are
created on demand and removed again when deleting, moving or cancelling leaves them empty, so
the tree holds only live content.

Writes are buffered up to ``buffer_size`` (1 MiB) in one fixed buffer; a write that would fill it
goes out together with the buffer in a single ``writev``, so large writes are never copied.
``append_file`` takes a whole local file (an upload body nginx spooled): as the first content it
is hard-linked into place, after other bytes it is copied inside the kernel (copy_file_range).
Large content is synced to disk behind the writes by a helper thread (``_SyncBehind``), so the
sync in ``commit`` has little left to wait for. Readers are ordinary binary file objects
(streaming, seekable), and ``local_path`` gives the registry the real file for nginx's
X-Accel-Redirect fast path.

Files and directories are created with the process umask applied (0666/0777), so the operator
decides whether nginx, running as another user, may read them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import os
import shutil
import stat as stat_module
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from berth_registry.storage.base import (
    FILE_COPY_CHUNK,
    FileInfo,
    FileWriter,
    InvalidOffset,
    InvalidPath,
    LocalFile,
    PathNotFound,
    StorageDriver,
    StorageError,
    validate_path,
)

T = TypeVar("T")

PARTIAL_SUFFIX = "~partial"
TEMP_INFIX = "~tmp-"
HIDDEN_MARK = "~"
DEFAULT_BUFFER_SIZE = 1024 * 1024
# After this many bytes written, a helper thread starts syncing them to disk (see _SyncBehind).
SYNC_BEHIND_BYTES = 32 * 1024 * 1024
# How often to retry creating a file whose fresh parent directory a concurrent prune removed.
_CREATE_ATTEMPTS = 10


class FilesystemDriver(StorageDriver):
    """Stores each path as a file under ``root``."""

    name = "filesystem"

    def __init__(self, root: str | os.PathLike[str], buffer_size: int = DEFAULT_BUFFER_SIZE) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be positive")
        self.root = os.path.abspath(os.fspath(root))
        self.buffer_size = buffer_size
        os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"FilesystemDriver(root={self.root!r})"

    # -- helpers -----------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        # Validated again here (cheap) so that even an unwrapped driver never leaves its root.
        validate_path(path, self.name, allow_root=True)
        return self.root if path == "/" else self.root + path

    def _error(self, path: str, error: OSError) -> StorageError:
        """Translate an OSError about ``path`` into the driver's errors."""
        if isinstance(error, FileNotFoundError | NotADirectoryError | IsADirectoryError):
            return PathNotFound(self.name, path)
        if error.errno == errno.ENAMETOOLONG:
            return InvalidPath(self.name, path, "name too long")
        return StorageError(self.name, path, f"{type(error).__name__}: {error.strerror or error}")

    def _in_directory(self, file_path: str, operation: Callable[[], T]) -> T:
        """Run ``operation``, which creates ``file_path``, making its missing parents as needed.

        Directories are pruned when they empty, so one we just made can vanish again before we
        use it (another request deleted its last file); then we make it again, a few times.
        """
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                return operation()
            except FileNotFoundError:
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
            with contextlib.suppress(FileNotFoundError):  # an ancestor pruned mid-way: go round again
                os.makedirs(os.path.dirname(file_path), exist_ok=True)
        raise AssertionError("unreachable")

    def _create(self, file_path: str, flags: int) -> int:
        """``os.open`` with O_CREAT, making missing parent directories first."""
        return self._in_directory(file_path, lambda: os.open(file_path, flags | os.O_CREAT | os.O_CLOEXEC, 0o666))

    def _prune(self, directory: str) -> None:
        """Remove ``directory`` and its ancestors while they are empty, stopping at the root."""
        while directory != self.root and directory.startswith(self.root + "/"):
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                pass
            except OSError:
                return  # not empty (or not ours to remove): the usual way this loop ends
            directory = os.path.dirname(directory)

    def _fsync_directory(self, directory: str) -> None:
        """Make a rename in ``directory`` durable."""
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- the contract ------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as file:
                return file.read()
        except OSError as error:
            raise self._error(path, error) from None

    def put_content(self, path: str, data: bytes) -> None:
        full = self._full(path)
        temp = f"{full}{TEMP_INFIX}{uuid.uuid4().hex}"
        try:
            fd = self._create(temp, os.O_WRONLY | os.O_EXCL)
            try:
                _write_all(fd, [data])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, full)
            self._fsync_directory(os.path.dirname(full))
        except OSError as error:
            _unlink_quietly(temp)
            self._prune(os.path.dirname(full))
            raise self._error(path, error) from None

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            file = open(self._full(path), "rb")  # noqa: SIM115 - handed to the caller, who closes it
        except OSError as error:
            raise self._error(path, error) from None
        size = os.fstat(file.fileno()).st_size
        if offset < 0 or offset > size:
            file.close()
            raise InvalidOffset(self.name, path, f"offset {offset} outside 0..{size}")
        if offset:
            file.seek(offset)
        return file

    def writer(self, path: str, append: bool = False) -> FileWriter:
        full = self._full(path)
        partial = full + PARTIAL_SUFFIX
        try:
            fd = self._create(partial, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
        except OSError as error:
            self._prune(os.path.dirname(full))
            raise self._error(path, error) from None
        size = os.fstat(fd).st_size if append else 0
        return _FilesystemWriter(self, path, full, partial, fd, size)

    def stat(self, path: str) -> FileInfo:
        try:
            result = os.stat(self._full(path))
        except OSError as error:
            raise self._error(path, error) from None
        return _info(path, result)

    def list(self, path: str) -> list[str]:
        prefix = "" if path == "/" else path
        try:
            with os.scandir(self._full(path)) as entries:
                return sorted(f"{prefix}/{entry.name}" for entry in entries if HIDDEN_MARK not in entry.name)
        except OSError as error:
            raise self._error(path, error) from None

    def walk(self, path: str) -> Iterator[FileInfo]:
        info = self.stat(path)
        if not info.is_dir:
            raise PathNotFound(self.name, path, "not a directory")
        yield from self._walk(path, self._full(path))

    def _walk(self, path: str, full: str) -> Iterator[FileInfo]:
        prefix = "" if path == "/" else path
        try:
            with os.scandir(full) as scan:
                entries = sorted((entry for entry in scan if HIDDEN_MARK not in entry.name), key=lambda entry: entry.name)
        except FileNotFoundError:
            return  # removed while we walked
        for entry in entries:
            child = f"{prefix}/{entry.name}"
            try:
                info = _info(child, entry.stat(follow_symlinks=False))
            except FileNotFoundError:
                continue
            yield info
            if info.is_dir:
                yield from self._walk(child, entry.path)

    def move(self, source: str, destination: str) -> None:
        full_source = self._full(source)
        full_destination = self._full(destination)
        try:
            if not stat_module.S_ISREG(os.stat(full_source).st_mode):
                raise PathNotFound(self.name, source, "not a file")
        except OSError as error:
            raise self._error(source, error) from None
        try:
            self._in_directory(full_destination, lambda: os.replace(full_source, full_destination))
        except FileNotFoundError:
            if not os.path.exists(full_source):
                self._prune(os.path.dirname(full_destination))  # made for nothing
                raise PathNotFound(self.name, source) from None  # moved away meanwhile
            raise StorageError(self.name, destination, "its directory keeps vanishing") from None
        except OSError as error:
            raise self._error(destination, error) from None
        self._fsync_directory(os.path.dirname(full_destination))
        self._prune(os.path.dirname(full_source))

    def delete(self, path: str) -> None:
        full = self._full(path)
        found = False
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
                found = True
            else:
                found = _unlink_quietly(full)
            # Pending content of a file at this path goes too (see the contract).
            found = _unlink_quietly(full + PARTIAL_SUFFIX) or found
        except OSError as error:
            raise self._error(path, error) from None
        self._prune(os.path.dirname(full))
        if not found:
            raise PathNotFound(self.name, path)

    def local_path(self, path: str) -> Path | None:
        return Path(self._full(path))


class _FilesystemWriter(FileWriter):
    """Appends to ``<name>~partial`` through one reused buffer; renames it over ``<name>`` on commit."""

    def __init__(self, driver: FilesystemDriver, path: str, full: str, partial: str, fd: int, size: int) -> None:
        self._driver = driver
        self._path = path
        self._full = full
        self._partial = partial
        # A FileIO only to own the descriptor: it is closed even if the writer is dropped.
        self._file: io.FileIO | None = io.FileIO(fd, "w", closefd=True)
        self._size = size
        # A fixed buffer filled in place: growing a bytearray would copy it on every realloc.
        self._buffer: memoryview | None = None
        self._filled = 0
        self._behind = _SyncBehind(partial)

    @property
    def size(self) -> int:
        return self._size

    def _open_fd(self) -> int:
        if self._file is None:
            raise ValueError(f"writer for {self._path} is closed")
        return self._file.fileno()

    def write(self, data: bytes) -> int:
        fd = self._open_fd()
        length = len(data)
        end = self._filled + length
        if end < self._driver.buffer_size:
            if self._buffer is None:
                self._buffer = memoryview(bytearray(self._driver.buffer_size))
            self._buffer[self._filled : end] = data
            self._filled = end
        else:
            self._flush(fd, data)
        self._size += length
        return length

    def append_file(self, source: LocalFile) -> None:
        fd = self._open_fd()
        if source.size == 0:
            return
        if not (self._size == 0 and self._filled == 0 and self._link(source)):
            self._flush(fd)
            self._copy(source)
        self._behind.wrote(source.size)

    def _link(self, source: LocalFile) -> bool:
        """Make the (empty) pending file a hard link to ``source``; False when it cannot be.

        The link is made under a temporary name and checked to be the very file behind
        ``source.fd`` (the name could have been replaced meanwhile); it gets the owner and mode
        of the pending file it replaces, as if this process had written it. Anything that does
        not work (another filesystem, a kernel refusing links to others' files, a vanished
        name) leaves everything as it was, and the caller copies instead.
        """
        temp = f"{self._full}{TEMP_INFIX}{uuid.uuid4().hex}"
        try:
            os.link(source.path, temp, follow_symlinks=False)
            fd = os.open(temp, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            _unlink_quietly(temp)
            return False
        try:
            linked, expected, ours = os.fstat(fd), os.fstat(source.fd), os.fstat(self._open_fd())
            if (linked.st_dev, linked.st_ino) != (expected.st_dev, expected.st_ino) or linked.st_size != source.size:
                raise _NotLinked
            if (linked.st_uid, linked.st_gid) != (ours.st_uid, ours.st_gid):
                os.fchown(fd, ours.st_uid, ours.st_gid)
            os.fchmod(fd, stat_module.S_IMODE(ours.st_mode))
            os.replace(temp, self._partial)
        except (OSError, _NotLinked):
            os.close(fd)
            _unlink_quietly(temp)
            return False
        self._file.close()
        self._file = io.FileIO(fd, "w", closefd=True)
        self._size = source.size
        return True

    def _copy(self, source: LocalFile) -> None:
        """Append ``source`` after the ``size`` bytes already written, inside the kernel where possible."""
        # copy_file_range refuses descriptors opened with O_APPEND: write at explicit offsets.
        try:
            out = os.open(self._partial, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as error:
            raise self._driver._error(self._path, error) from None
        copied = 0
        try:
            while copied < source.size:
                count = _copy_range(source.fd, out, source.size - copied, copied, self._size + copied)
                if count == 0:
                    raise StorageError(self._driver.name, self._path, f"{source.path} ended after {copied} of {source.size} bytes")
                copied += count
        except BaseException as failure:
            # Leave the file as long as ``size`` says, so the next write follows on correctly.
            with contextlib.suppress(OSError):
                os.ftruncate(out, self._size)
            if isinstance(failure, OSError):
                raise self._driver._error(self._path, failure) from None
            raise
        finally:
            os.close(out)
        self._size += copied

    def _flush(self, fd: int, data: bytes = b"", *, more_to_come: bool = True) -> None:
        """Write out the buffered bytes followed by ``data``."""
        pending = self._buffer[: self._filled] if self._buffer is not None else b""
        try:
            _write_all(fd, [pending, data])
        except OSError as error:
            raise self._driver._error(self._path, error) from None
        if more_to_come:
            self._behind.wrote(len(pending) + len(data))
        self._filled = 0

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = None
        self._filled = 0

    def _flush_and_close(self, sync: bool) -> None:
        fd = self._open_fd()
        try:
            self._flush(fd, more_to_come=False)
            try:
                self._behind.finish()
                if sync:
                    os.fdatasync(fd)
            except OSError as error:
                raise self._driver._error(self._path, error) from None
        finally:
            self._release()

    def close(self) -> None:
        if self._file is not None:
            self._flush_and_close(sync=False)

    def commit(self) -> None:
        self._flush_and_close(sync=True)
        try:
            os.replace(self._partial, self._full)
            self._driver._fsync_directory(os.path.dirname(self._full))
        except OSError as error:
            raise self._driver._error(self._path, error) from None

    def cancel(self) -> None:
        self._open_fd()
        self._release()
        _unlink_quietly(self._partial)
        self._driver._prune(os.path.dirname(self._partial))


class _NotLinked(Exception):
    """The hard link does not reach the expected file."""


class _SyncBehind:
    """Writes a pending file's data to disk in the background while more arrives or is hashed.

    ``commit`` must not return before the data is durable, and an fsync of a whole large blob at
    the end takes a noticeable time (about 0.3 s per GiB here) during which the client waits.
    After every ``SYNC_BEHIND_BYTES`` written (and after a whole file was appended), a helper
    thread calls fdatasync on its own descriptor of the file, so by the time ``commit`` calls
    fdatasync itself little or nothing is left to write. Purely an optimisation: ``commit``
    always syncs. ``close`` and ``commit`` wait for the helper and raise the error it met, since
    the kernel reports a writeback error once per open file. The helper uses a separate open (not
    a dup) so that the writer's own descriptor is told about such an error too.
    """

    def __init__(self, file_path: str) -> None:
        self._file_path = file_path
        self._unsynced = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def wrote(self, count: int) -> None:
        self._unsynced += count
        if self._unsynced < SYNC_BEHIND_BYTES or (self._thread is not None and self._thread.is_alive()):
            return
        try:
            fd = os.open(self._file_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return  # commit syncs anyway
        self._unsynced = 0
        self._thread = threading.Thread(target=self._sync, args=(fd,), name="berth-sync-behind", daemon=True)
        self._thread.start()

    def _sync(self, fd: int) -> None:
        try:
            os.fdatasync(fd)
        except OSError as error:
            self._error = error
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Wait for the helper; raise the error it met, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error


def _copy_range(source: int, destination: int, count: int, source_offset: int, destination_offset: int) -> int:
    """Copy up to ``count`` bytes between offsets of two files: copy_file_range, else pread/pwrite."""
    try:
        return os.copy_file_range(source, destination, count, source_offset, destination_offset)
    except OSError as error:
        # Kernels and filesystems that cannot (other filesystem, old kernel, special files).
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    chunk = os.pread(source, min(count, FILE_COPY_CHUNK), source_offset)
    _pwrite_all(destination, chunk, destination_offset)
    return len(chunk)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _info(path: str, result: os.stat_result) -> FileInfo:
    is_dir = stat_module.S_ISDIR(result.st_mode)
    return FileInfo(
        path=path,
        size=0 if is_dir else result.st_size,
        mod_time=dt.datetime.fromtimestamp(result.st_mtime, dt.UTC),
        is_dir=is_dir,
    )


def _write_all(fd: int, chunks: list[bytes | bytearray | memoryview]) -> None:
    """Write every chunk, in order, with one ``writev`` in the usual case (no joining copy)."""
    chunks = [chunk for chunk in chunks if len(chunk)]
    if not chunks:
        return
    written = os.writev(fd, chunks)
    total = sum(len(chunk) for chunk in chunks)
    if written == total:
        return
    # A short write (rare on regular files: a signal, a nearly full disk). Finish the rest.
    rest = memoryview(b"".join(chunks))[written:]
    while rest:
        rest = rest[os.write(fd, rest) :]


def _unlink_quietly(file_path: str) -> bool:
    """Remove a file; False if it was not there."""
    try:
        os.unlink(file_path)
        return True
    except FileNotFoundError:
        return False
