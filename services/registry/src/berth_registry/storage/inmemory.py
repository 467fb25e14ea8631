"""An in-memory storage driver for tests: the full contract, nothing survives the process.

Content lives in an :class:`InMemoryStore`. Two drivers built on the same store behave like two
registry processes sharing one backend, which is how tests resume a closed writer "elsewhere".
Committed content is kept as the writer's own buffer (no copy on commit) and readers are views
over it, so a large blob costs its size once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import threading
from collections.abc import Iterator

from berth_registry.storage.base import EPOCH, FileInfo, FileWriter, InvalidOffset, PathNotFound, StorageDriver


@dataclasses.dataclass
class _File:
    data: bytes | bytearray  # never mutated once committed
    mod_time: dt.datetime


class InMemoryStore:
    """The shared state behind one or more InMemoryDriver instances."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, _File] = {}
        self.pending: dict[str, bytearray] = {}


def _under(key: str, path: str) -> bool:
    """True if ``key`` is ``path`` itself or inside the directory ``path``."""
    return key == path or key.startswith(path.rstrip("/") + "/")


class InMemoryDriver(StorageDriver):
    """Keeps files in a dict; directories are implied by the paths of committed files."""

    name = "inmemory"

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __repr__(self) -> str:
        return "InMemoryDriver()"

    def _file(self, path: str) -> _File:
        found = self.store.files.get(path)
        if found is None:
            raise PathNotFound(self.name, path)
        return found

    def get_content(self, path: str) -> bytes:
        with self.store.lock:
            return bytes(self._file(path).data)

    def put_content(self, path: str, data: bytes) -> None:
        content = bytes(data)
        with self.store.lock:
            self.store.files[path] = _File(content, dt.datetime.now(dt.UTC))

    def reader(self, path: str, offset: int = 0) -> io.RawIOBase:
        with self.store.lock:
            data = self._file(path).data
        if offset < 0 or offset > len(data):
            raise InvalidOffset(self.name, path, f"offset {offset} outside 0..{len(data)}")
        stream = _MemoryReader(data)
        stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> FileWriter:
        with self.store.lock:
            if append:
                buffer = self.store.pending.setdefault(path, bytearray())
            else:
                buffer = self.store.pending[path] = bytearray()
        return _MemoryWriter(self, path, buffer)

    def stat(self, path: str) -> FileInfo:
        with self.store.lock:
            found = self.store.files.get(path)
            if found is not None:
                return FileInfo(path, len(found.data), found.mod_time, is_dir=False)
            if path == "/" or any(_under(key, path) for key in self.store.files):
                return FileInfo(path, 0, EPOCH, is_dir=True)
        raise PathNotFound(self.name, path)

    def list(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        children: set[str] = set()
        with self.store.lock:
            for key in self.store.files:
                if key.startswith(prefix):
                    children.add(prefix + key[len(prefix) :].split("/", 1)[0])
        if not children and path != "/":
            raise PathNotFound(self.name, path)
        return sorted(children)

    def walk(self, path: str) -> Iterator[FileInfo]:
        prefix = path.rstrip("/") + "/"
        with self.store.lock:
            files = sorted((key, len(f.data), f.mod_time) for key, f in self.store.files.items() if key.startswith(prefix))
        if not files and path != "/":
            raise PathNotFound(self.name, path)
        seen: set[str] = set()
        for key, size, mod_time in files:
            # Every directory between ``path`` and the file, each reported once, before the file.
            segments = key[len(prefix) :].split("/")
            for depth in range(1, len(segments)):
                directory = prefix + "/".join(segments[:depth])
                if directory not in seen:
                    seen.add(directory)
                    yield FileInfo(directory, 0, EPOCH, is_dir=True)
            yield FileInfo(key, size, mod_time, is_dir=False)

    def move(self, source: str, destination: str) -> None:
        with self.store.lock:
            moved = self._file(source)
            del self.store.files[source]
            self.store.files[destination] = moved

    def delete(self, path: str) -> None:
        with self.store.lock:
            files = [key for key in self.store.files if _under(key, path)]
            pending = [key for key in self.store.pending if _under(key, path)]
            if not files and not pending:
                raise PathNotFound(self.name, path)
            for key in files:
                del self.store.files[key]
            for key in pending:
                del self.store.pending[key]


class _MemoryWriter(FileWriter):
    def __init__(self, driver: InMemoryDriver, path: str, buffer: bytearray) -> None:
        self._driver = driver
        self._path = path
        self._buffer = buffer
        self._done = False

    @property
    def size(self) -> int:
        return len(self._buffer)

    def _check_open(self) -> None:
        if self._done:
            raise ValueError(f"writer for {self._path} is closed")

    def write(self, data: bytes) -> int:
        self._check_open()
        self._buffer += data
        return len(data)

    def close(self) -> None:
        self._done = True

    def commit(self) -> None:
        self._check_open()
        self._done = True
        store = self._driver.store
        with store.lock:
            # Only this writer's buffer becomes the file; a newer writer may have replaced it.
            if store.pending.get(self._path) is self._buffer:
                del store.pending[self._path]
            store.files[self._path] = _File(self._buffer, dt.datetime.now(dt.UTC))

    def cancel(self) -> None:
        self._check_open()
        self._done = True
        store = self._driver.store
        with store.lock:
            if store.pending.get(self._path) is self._buffer:
                del store.pending[self._path]


class _MemoryReader(io.RawIOBase):
    """A seekable read-only stream over committed content, without copying it."""

    def __init__(self, data: bytes | bytearray) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        chunk = self._view[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        self._view.release()
        super().close()
