"""The storage driver conformance suite: one set of tests every driver must pass unchanged.

Here it runs against the in-memory and filesystem drivers; tests/integration/registry/storage/
imports these same functions and runs them against S3 by providing its own ``backend`` fixture.
A driver is done when it passes. Every test must leave the backend empty: the ``driver`` fixture
fails the test otherwise (checking the raw backend, pending uploads and temp files included).

Sizes are chosen around ``CHUNK`` (5 MiB, S3's minimum part size; the S3 backend uses it as its
chunk size), so chunk boundaries, multipart parts and their small tails are all exercised.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import random
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth_registry.storage import factory
from berth_registry.storage.base import InvalidOffset, InvalidPath, LocalFile, PathNotFound, StorageDriver, StorageError
from berth_registry.storage.inmemory import InMemoryStore

MIB = 1024 * 1024
CHUNK = 5 * MIB
LARGE = 64 * MIB
# What a driver may allocate on top of the content it keeps while streaming LARGE bytes in or out:
# one chunk of its own plus the caller's pieces (measured: 2 MiB filesystem/inmemory, 6 MiB S3).
MEMORY_ALLOWANCE = 2 * CHUNK


@dataclasses.dataclass(frozen=True)
class Backend:
    """One storage backend under test."""

    name: str
    # A new driver on the same storage, as another registry process would build it.
    make: Callable[[], StorageDriver]
    # Whatever is left in the raw backend: files, objects, pending uploads, temp files.
    leftovers: Callable[[], list[str]]
    has_redirect: bool = False
    has_local_path: bool = False


def _inmemory_backend() -> Backend:
    store = InMemoryStore()
    return Backend(
        "inmemory",
        make=lambda: factory.create("inmemory", {"store": store}),
        leftovers=lambda: sorted([*store.files, *(f"pending:{key}" for key in store.pending)]),
    )


def _filesystem_backend(root: Path) -> Backend:
    return Backend(
        "filesystem",
        make=lambda: factory.create("filesystem", {"root": str(root)}),
        leftovers=lambda: sorted(str(entry.relative_to(root)) for entry in root.rglob("*")),
        has_local_path=True,
    )


@pytest.fixture(params=["inmemory", "filesystem"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "inmemory":
        return _inmemory_backend()
    return _filesystem_backend(tmp_path / "root")


@pytest.fixture
def driver(backend: Backend) -> Iterator[StorageDriver]:
    """A driver for the test; the test fails if it leaves anything in the backend."""
    yield backend.make()
    left = backend.leftovers()
    if left:
        pytest.fail(f"test left content in the {backend.name} backend: {left[:20]}")


def data(size: int, seed: int = 0) -> bytes:
    """Reproducible incompressible bytes, different for each seed."""
    return random.Random(seed).randbytes(size)


def read_all(driver: StorageDriver, path: str, offset: int = 0) -> bytes:
    with driver.reader(path, offset) as stream:
        return stream.read()


# -- small content -------------------------------------------------------------------------------


def test_put_and_get_content(driver: StorageDriver) -> None:
    every_byte = bytes(range(256)) * 4
    driver.put_content("/a/b/c", every_byte)
    driver.put_content("/a/empty", b"")
    assert driver.get_content("/a/b/c") == every_byte
    assert driver.get_content("/a/empty") == b""
    assert read_all(driver, "/a/b/c") == every_byte
    driver.delete("/a")


def test_put_content_overwrites(driver: StorageDriver) -> None:
    driver.put_content("/over/file", b"first version, longer")
    driver.put_content("/over/file", b"second")
    assert driver.get_content("/over/file") == b"second"
    assert driver.stat("/over/file").size == 6
    driver.delete("/over")


def test_missing_paths_raise_path_not_found(driver: StorageDriver) -> None:
    driver.put_content("/present/file", b"x")
    calls = {
        "get_content": lambda: driver.get_content("/absent"),
        "reader": lambda: driver.reader("/absent"),
        "stat": lambda: driver.stat("/absent"),
        "list": lambda: driver.list("/absent"),
        "delete": lambda: driver.delete("/absent"),
        "move": lambda: driver.move("/absent", "/elsewhere"),
        "get_content of a directory": lambda: driver.get_content("/present"),
        "reader of a directory": lambda: driver.reader("/present"),
        "list of a file": lambda: driver.list("/present/file"),
        "below a file": lambda: driver.stat("/present/file/below"),
    }
    for what, call in calls.items():
        with pytest.raises(PathNotFound) as raised:
            call()
        assert raised.value.driver == driver.name, what
    with pytest.raises(PathNotFound):
        list(driver.walk("/absent"))
    driver.delete("/present")


def test_stat_reports_files_and_directories(driver: StorageDriver) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    driver.put_content("/st/file", data(1234))
    driver.put_content("/st/sub/deeper/file", b"12")

    info = driver.stat("/st/file")
    assert (info.path, info.size, info.is_dir) == ("/st/file", 1234, False)
    assert info.mod_time.tzinfo is not None and before < info.mod_time < before + dt.timedelta(minutes=3)
    for directory in ("/st", "/st/sub", "/st/sub/deeper", "/"):
        info = driver.stat(directory)
        assert (info.path, info.is_dir, info.size) == (directory, True, 0)
    driver.delete("/st")


def test_list_returns_direct_children_sorted(driver: StorageDriver) -> None:
    for path in ("/lst/b", "/lst/a", "/lst/dir/x", "/lst/dir/y/z", "/lstx/sibling"):
        driver.put_content(path, b"-")
    assert driver.list("/lst") == ["/lst/a", "/lst/b", "/lst/dir"]
    assert driver.list("/lst/dir") == ["/lst/dir/x", "/lst/dir/y"]
    assert driver.list("/") == ["/lst", "/lstx"]
    driver.delete("/lst")
    driver.delete("/lstx")
    assert driver.list("/") == []


def test_walk_reports_everything_below_a_directory_first(driver: StorageDriver) -> None:
    files = {"/w/a": 1, "/w/d/b": 2, "/w/d/e/c": 3, "/w/d/e/f": 4, "/w/g/h": 5, "/wx/outside": 6}
    for path, size in files.items():
        driver.put_content(path, data(size))

    walked = list(driver.walk("/w"))
    assert {(i.path, i.is_dir, i.size) for i in walked} == {
        ("/w/a", False, 1), ("/w/d", True, 0), ("/w/d/b", False, 2), ("/w/d/e", True, 0),
        ("/w/d/e/c", False, 3), ("/w/d/e/f", False, 4), ("/w/g", True, 0), ("/w/g/h", False, 5),
    }  # fmt: skip
    assert len(walked) == 8
    order = [info.path for info in walked]
    for position, path in enumerate(order):
        parent = path.rsplit("/", 1)[0]
        if parent != "/w":
            assert order.index(parent) < position, f"{parent} walked after {path}"
    assert {i.path for i in driver.walk("/") if not i.is_dir} == set(files)
    driver.delete("/w")
    driver.delete("/wx")


def test_delete_file_keeps_its_siblings(driver: StorageDriver) -> None:
    for path in ("/del/a", "/del/ab", "/del/a2", "/del/b/a"):
        driver.put_content(path, path.encode())
    driver.delete("/del/a")
    with pytest.raises(PathNotFound):
        driver.stat("/del/a")
    assert driver.list("/del") == ["/del/a2", "/del/ab", "/del/b"]
    with pytest.raises(PathNotFound):
        driver.delete("/del/a")
    driver.delete("/del")


def test_delete_removes_a_subtree(driver: StorageDriver) -> None:
    for path in ("/tree/a", "/tree/s/b", "/tree/s/c/d", "/treetop/e"):
        driver.put_content(path, b"x")
    driver.delete("/tree")
    for gone in ("/tree", "/tree/a", "/tree/s", "/tree/s/c/d"):
        with pytest.raises(PathNotFound):
            driver.stat(gone)
    assert driver.get_content("/treetop/e") == b"x"
    assert driver.list("/") == ["/treetop"]
    with pytest.raises(PathNotFound):
        driver.delete("/tree")
    driver.delete("/treetop")


def test_move_replaces_the_destination(driver: StorageDriver) -> None:
    content = data(3 * MIB, seed=1)
    driver.put_content("/mv/src", content)
    driver.put_content("/mv/other/dst", b"old")
    driver.move("/mv/src", "/mv/other/dst")
    assert driver.get_content("/mv/other/dst") == content
    with pytest.raises(PathNotFound):
        driver.stat("/mv/src")

    driver.move("/mv/other/dst", "/mv/new/dir/dst")
    assert read_all(driver, "/mv/new/dir/dst") == content
    assert driver.list("/mv") == ["/mv/new"]
    with pytest.raises(PathNotFound):
        driver.move("/mv/other/dst", "/mv/again")
    driver.delete("/mv")


# -- readers -------------------------------------------------------------------------------------


def test_reader_starts_at_any_offset_up_to_the_end(driver: StorageDriver) -> None:
    content = data(1000, seed=2)
    driver.put_content("/rd/file", content)
    for offset in (0, 1, 500, 999, 1000):
        assert read_all(driver, "/rd/file", offset) == content[offset:], offset
    with driver.reader("/rd/file", 10) as stream:
        assert stream.read(5) == content[10:15]
        assert stream.read(5) == content[15:20]
    for bad in (1001, 10**9, -1):
        with pytest.raises(InvalidOffset):
            driver.reader("/rd/file", bad)
    driver.put_content("/rd/empty", b"")
    assert read_all(driver, "/rd/empty", 0) == b""
    with pytest.raises(InvalidOffset):
        driver.reader("/rd/empty", 1)
    driver.delete("/rd")


# -- writers -------------------------------------------------------------------------------------


def test_writer_takes_many_small_writes(driver: StorageDriver) -> None:
    rng = random.Random(3)
    written = bytearray()
    with driver.writer("/small/file") as writer:
        while len(written) < 2 * CHUNK + 100_000:
            piece = rng.randbytes(rng.randint(1, 64 * 1024))
            assert writer.write(piece) == len(piece)
            written += piece
            assert writer.size == len(written)
        writer.commit()
    assert driver.stat("/small/file").size == len(written)
    assert hashlib.sha256(read_all(driver, "/small/file")).digest() == hashlib.sha256(written).digest()
    driver.delete("/small")


def test_resume_after_close_in_a_new_driver_instance(backend: Backend, driver: StorageDriver) -> None:
    # Each piece is written by a fresh driver, as consecutive PATCH requests landing on
    # different registry processes would: below a chunk, across a boundary, nothing, one byte,
    # exactly a chunk, and a chunk plus a little.
    pieces = [data(MIB, 10), data(CHUNK, 11), b"", data(1, 12), data(CHUNK, 13), data(CHUNK + 123, 14)]
    expected = bytearray()
    for number, piece in enumerate(pieces):
        writer = backend.make().writer("/resume/data", append=number > 0)
        assert writer.size == len(expected), f"piece {number}"
        writer.write(piece)
        expected += piece
        assert writer.size == len(expected)
        writer.close()
        with pytest.raises(PathNotFound):
            driver.stat("/resume/data")  # nothing visible before the commit

    final = backend.make().writer("/resume/data", append=True)
    assert final.size == len(expected)
    final.write(b"end")
    expected += b"end"
    final.commit()
    assert driver.stat("/resume/data").size == len(expected)
    assert read_all(driver, "/resume/data") == expected
    driver.delete("/resume")


def test_writer_without_append_discards_pending_content(backend: Backend, driver: StorageDriver) -> None:
    first = backend.make().writer("/fresh/data")
    first.write(data(CHUNK + MIB, 20))
    first.close()
    second = backend.make().writer("/fresh/data")
    assert second.size == 0
    second.write(b"only this")
    second.commit()
    assert driver.get_content("/fresh/data") == b"only this"
    third = driver.writer("/fresh/data", append=True)
    assert third.size == 0  # committed content is not pending content
    third.cancel()
    driver.delete("/fresh")


def test_append_with_nothing_pending_starts_empty(driver: StorageDriver) -> None:
    writer = driver.writer("/nothing/yet", append=True)
    assert writer.size == 0
    writer.write(b"abc")
    writer.commit()
    assert driver.get_content("/nothing/yet") == b"abc"
    driver.delete("/nothing")


def test_cancel_discards_everything_written(backend: Backend, driver: StorageDriver) -> None:
    driver.put_content("/cancel/keep", b"old content")
    first = backend.make().writer("/cancel/keep")
    first.write(data(CHUNK + MIB, 30))
    first.close()
    second = backend.make().writer("/cancel/keep", append=True)
    second.write(data(2 * MIB, 31))
    second.cancel()
    assert driver.get_content("/cancel/keep") == b"old content"
    again = backend.make().writer("/cancel/keep", append=True)
    assert again.size == 0
    again.cancel()

    never = driver.writer("/cancel/never/committed")
    never.write(data(CHUNK + 1, 32))
    never.cancel()
    with pytest.raises(PathNotFound):
        driver.stat("/cancel/never/committed")
    driver.delete("/cancel")


def test_delete_removes_pending_content_too(backend: Backend, driver: StorageDriver) -> None:
    writer = backend.make().writer("/session/data")
    writer.write(data(CHUNK + MIB, 35))
    writer.close()
    driver.put_content("/session/startedat", b"2024-01-01T00:00:00Z")
    driver.delete("/session")  # what ending an upload session does
    after = backend.make().writer("/session/data", append=True)
    assert after.size == 0
    after.cancel()

    pending_only = backend.make().writer("/pending/data")
    pending_only.write(b"x")
    pending_only.close()
    driver.delete("/pending/data")  # a file that was never committed can still be deleted
    # The fixture proves that neither left anything behind (uploads, tails, partial files).


def test_commit_makes_content_visible_atomically(backend: Backend, driver: StorageDriver) -> None:
    old = data(1000, 40)
    new = data(CHUNK + 2 * MIB, 41)
    driver.put_content("/atomic/file", old)
    driver.put_content("/atomic/sibling", b"s")
    writer = driver.writer("/atomic/file")
    writer.write(new)
    assert driver.get_content("/atomic/file") == old
    assert driver.stat("/atomic/file").size == len(old)
    writer.close()
    assert driver.get_content("/atomic/file") == old

    resumed = backend.make().writer("/atomic/file", append=True)
    resumed.commit()
    assert driver.stat("/atomic/file").size == len(new)
    assert read_all(driver, "/atomic/file") == new

    fresh = driver.writer("/atomic/fresh")
    fresh.write(new)
    fresh.close()
    assert "/atomic/fresh" not in driver.list("/atomic")
    assert "/atomic/fresh" not in {info.path for info in driver.walk("/atomic")}
    with pytest.raises(PathNotFound):
        driver.get_content("/atomic/fresh")
    backend.make().writer("/atomic/fresh", append=True).commit()
    assert read_all(driver, "/atomic/fresh") == new
    driver.delete("/atomic")


def test_empty_writer_commits_an_empty_file(driver: StorageDriver) -> None:
    driver.writer("/empty/file").commit()
    assert driver.stat("/empty/file").size == 0
    assert driver.get_content("/empty/file") == b""
    driver.delete("/empty")


def test_writer_context_keeps_content_resumable(driver: StorageDriver) -> None:
    with driver.writer("/ctx/data") as writer:
        writer.write(b"kept")
    with pytest.raises(RuntimeError), driver.writer("/ctx/data", append=True) as writer:
        writer.write(b" also")
        raise RuntimeError("client went away")
    resumed = driver.writer("/ctx/data", append=True)
    assert resumed.size == len(b"kept also")
    resumed.commit()
    assert driver.get_content("/ctx/data") == b"kept also"
    driver.delete("/ctx")


def local_file(path: Path, content: bytes) -> Iterator[LocalFile]:
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)
    try:
        yield LocalFile(str(path), fd, len(content))
    finally:
        os.close(fd)


def test_append_file_equals_writing_its_bytes(backend: Backend, driver: StorageDriver, tmp_path: Path) -> None:
    # A whole file first (the filesystem driver links it), then around writes and across chunks.
    first, second, third = data(CHUNK + 123, 70), data(MIB, 71), data(10, 72)
    with contextlib.ExitStack() as files:
        sources = [files.enter_context(contextlib.contextmanager(local_file)(tmp_path / f"body{n}", content))
                   for n, content in enumerate((first, second, third))]  # fmt: skip
        writer = driver.writer("/appended/data")
        writer.append_file(sources[0])
        assert writer.size == len(first)
        writer.write(b"between")
        writer.close()
        resumed = backend.make().writer("/appended/data", append=True)
        resumed.append_file(sources[1])
        resumed.append_file(LocalFile(sources[2].path, sources[2].fd, 0))  # nothing to add
        resumed.append_file(sources[2])
        assert resumed.size == len(first) + 7 + len(second) + len(third)
        resumed.commit()
    assert read_all(driver, "/appended/data") == first + b"between" + second + third
    # The caller's names stay (the content of a linked one may have grown with later writes).
    assert all((tmp_path / f"body{n}").exists() for n in range(3))
    driver.delete("/appended")


def test_append_file_shorter_than_announced_fails(backend: Backend, driver: StorageDriver, tmp_path: Path) -> None:
    content = data(MIB, 73)
    with contextlib.contextmanager(local_file)(tmp_path / "short", content) as source:
        writer = driver.writer("/short/data")
        writer.write(b"kept")
        with pytest.raises(StorageError):
            writer.append_file(LocalFile(source.path, source.fd, len(content) + 1))
        writer.cancel()


def test_writer_refuses_use_after_it_ended(driver: StorageDriver) -> None:
    committed = driver.writer("/ended/committed")
    committed.write(b"x")
    committed.commit()
    cancelled = driver.writer("/ended/cancelled")
    cancelled.cancel()
    closed = driver.writer("/ended/closed")
    closed.close()
    for writer in (committed, cancelled, closed):
        for call in (lambda w=writer: w.write(b"more"), writer.commit, writer.cancel):
            with pytest.raises(ValueError):
                call()
        writer.close()  # closing again is harmless, as with files
    driver.delete("/ended")


def test_large_content_streams_in_bounded_memory(driver: StorageDriver) -> None:
    block = data(MIB, 50)
    expected = hashlib.sha256()
    tracemalloc.start()
    try:
        with driver.writer("/large/blob") as writer:
            for number in range(LARGE // MIB):
                piece = number.to_bytes(8, "big") + block[8:]  # every MiB different
                expected.update(piece)
                writer.write(piece)
                del piece
            writer.commit()
        kept, write_peak = tracemalloc.get_traced_memory()

        tracemalloc.reset_peak()
        actual = hashlib.sha256()
        with driver.reader("/large/blob") as stream:
            while chunk := stream.read(MIB):
                actual.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert actual.hexdigest() == expected.hexdigest()
    # An in-memory backend keeps the content itself (``kept``); nothing may grow beyond that.
    assert write_peak - kept < MEMORY_ALLOWANCE, f"writing took {(write_peak - kept) / MIB:.1f} MiB"
    assert read_peak - kept < MEMORY_ALLOWANCE, f"reading took {(read_peak - kept) / MIB:.1f} MiB"

    middle = LARGE // 2 + 12345
    with driver.reader("/large/blob", middle) as stream:
        head = stream.read(100)
    piece = (middle // MIB).to_bytes(8, "big") + block[8:]
    assert head == piece[middle % MIB : middle % MIB + 100]
    assert driver.stat("/large/blob").size == LARGE
    driver.delete("/large")


def test_concurrent_writers_to_different_paths(backend: Backend, driver: StorageDriver) -> None:
    def upload(number: int) -> str:
        content = data(CHUNK + number * 100_000, 60 + number)
        writer = driver.writer(f"/conc/{number}/data")
        for start in range(0, len(content), 256 * 1024):
            writer.write(content[start : start + 256 * 1024])
        writer.commit()
        return hashlib.sha256(content).hexdigest()

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        digests = list(pool.map(upload, range(6)))
    assert driver.list("/conc") == [f"/conc/{number}" for number in range(6)]
    other = backend.make()
    for number, digest in enumerate(digests):
        assert hashlib.sha256(read_all(other, f"/conc/{number}/data")).hexdigest() == digest
    driver.delete("/conc")


# -- paths and fast paths ------------------------------------------------------------------------

BAD_PATHS = ["", "relative/path", "//a", "/a/", "/a//b", "/a/../b", "/..", "/.", "/a/./b", "/a b", "/a~b", "/ä", "/a\\b", "/a\x00b", "/a?b"]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_invalid_paths_are_rejected(driver: StorageDriver, bad: str) -> None:
    driver.put_content("/good", b"g")
    calls = [
        lambda: driver.get_content(bad),
        lambda: driver.put_content(bad, b"x"),
        lambda: driver.reader(bad),
        lambda: driver.writer(bad),
        lambda: driver.stat(bad),
        lambda: driver.list(bad),
        lambda: list(driver.walk(bad)),
        lambda: driver.move(bad, "/good"),
        lambda: driver.move("/good", bad),
        lambda: driver.delete(bad),
        lambda: driver.redirect_url(bad),
        lambda: driver.local_path(bad),
    ]
    for number, call in enumerate(calls):
        with pytest.raises(InvalidPath):
            call()
            pytest.fail(f"call {number} accepted {bad!r}")
    assert driver.get_content("/good") == b"g"
    driver.delete("/good")


def test_root_is_not_a_file(driver: StorageDriver) -> None:
    for call in (lambda: driver.put_content("/", b"x"), lambda: driver.delete("/"), lambda: driver.writer("/")):
        with pytest.raises(InvalidPath):
            call()
    for bad in (None, b"/bytes"):
        with pytest.raises(InvalidPath):
            driver.stat(bad)  # type: ignore[arg-type]


def test_fast_paths_serve_the_stored_bytes(backend: Backend, driver: StorageDriver) -> None:
    content = data(100_000, 70)
    driver.put_content("/fast/blob", content)
    url = driver.redirect_url("/fast/blob")
    if backend.has_redirect:
        assert url is not None
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == content
    else:
        assert url is None
    local = driver.local_path("/fast/blob")
    if backend.has_local_path:
        assert local is not None and local.read_bytes() == content
    else:
        assert local is None
    driver.delete("/fast")


# What a module re-running this suite against another backend imports (it brings ``backend``).
__all__ = ["Backend", "driver", *sorted(name for name in dict(globals()) if name.startswith("test_"))]
