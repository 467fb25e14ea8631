"""What only the filesystem driver does: partial files, renames, its root, plain readers, buffering."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import io
import os
import threading

import pytest

from berth_registry.storage import factory, filesystem
from berth_registry.storage.base import InvalidPath, LocalFile, PathNotFound, StorageError
from berth_registry.storage.filesystem import PARTIAL_SUFFIX, FilesystemDriver

MIB = 1024 * 1024


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


@pytest.fixture
def driver(root):
    yield factory.create("filesystem", {"root": str(root)})
    assert list(root.rglob("*")) == [], "test left files behind"


def test_pending_content_is_a_hidden_file_next_to_the_target(root, driver):
    writer = driver.writer("/up/data")
    writer.write(b"partial")
    writer.close()
    partial = root / "up" / f"data{PARTIAL_SUFFIX}"
    assert partial.read_bytes() == b"partial"
    assert driver.list("/up") == []
    inode = partial.stat().st_ino

    resumed = driver.writer("/up/data", append=True)
    resumed.commit()
    committed = root / "up" / "data"
    assert committed.stat().st_ino == inode  # renamed into place, not copied
    assert not partial.exists()
    driver.delete("/up")


def test_move_is_a_rename(root, driver):
    driver.put_content("/a/source", b"bytes")
    inode = (root / "a" / "source").stat().st_ino
    driver.move("/a/source", "/b/c/destination")
    assert (root / "b" / "c" / "destination").stat().st_ino == inode
    assert not (root / "a").exists()  # emptied directories go away
    driver.delete("/b")


def test_the_driver_never_leaves_its_root_even_unwrapped(tmp_path):
    (tmp_path / "secret").write_bytes(b"outside")
    bare = FilesystemDriver(tmp_path / "root")
    for path in ("/../secret", "/a/../../secret", "secret", "/a/./b"):
        with pytest.raises(InvalidPath):
            bare.get_content(path)
        with pytest.raises(InvalidPath):
            bare.put_content(path, b"x")
    assert (tmp_path / "secret").read_bytes() == b"outside"


def test_readers_are_plain_seekable_files(root, driver):
    driver.put_content("/r/file", b"0123456789")
    with driver.reader("/r/file", 4) as stream:
        assert isinstance(stream, io.BufferedReader) and stream.seekable()
        assert stream.read(2) == b"45"
        stream.seek(0)
        assert stream.read() == b"0123456789"
    assert driver.local_path("/r/file") == root / "r" / "file"
    driver.delete("/r")


def test_small_writes_are_gathered_and_large_ones_not_copied(driver, monkeypatch):
    calls = []
    real_writev = os.writev

    def recording_writev(fd, buffers):
        calls.append([len(buffer) for buffer in buffers])
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", recording_writev)
    writer = driver.writer("/w/data")
    for _ in range(1000):
        writer.write(b"k" * 1024)  # 1000 KiB: stays in the 1 MiB buffer
    assert calls == []
    writer.write(b"L" * (4 * MIB))  # goes out with the buffer, in one call
    assert calls == [[1000 * 1024, 4 * MIB]]
    writer.commit()
    assert driver.stat("/w/data").size == 1000 * 1024 + 4 * MIB
    driver.delete("/w")


def test_files_follow_the_process_umask(root, driver):
    old = os.umask(0o027)
    try:
        driver.put_content("/perm/file", b"x")
        with driver.writer("/perm/other") as writer:
            writer.commit()
    finally:
        os.umask(old)
    assert (root / "perm" / "file").stat().st_mode & 0o777 == 0o640
    assert (root / "perm" / "other").stat().st_mode & 0o777 == 0o640
    assert (root / "perm").stat().st_mode & 0o777 == 0o750
    driver.delete("/perm")


def test_pruning_empty_directories_does_not_break_concurrent_writes(root, driver):
    # Writers keep creating files in sibling directories while others delete theirs, which
    # removes the shared parents whenever they fall empty for a moment.
    def churn(number: int) -> None:
        for round_number in range(150):
            path = f"/shared/parent/{number}/file{round_number}"
            driver.put_content(path, b"x")
            with driver.writer(f"{path}-stream") as writer:
                writer.write(b"y")
                writer.commit()
            driver.move(f"{path}-stream", f"/shared/moved/{number}/file{round_number}")
            driver.delete(f"/shared/parent/{number}")
            driver.delete(f"/shared/moved/{number}")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(churn, range(4)))
    assert not (root / "shared").exists()


@contextlib.contextmanager
def spooled(path, content: bytes, mode: int = 0o600):
    """A file as nginx leaves an upload body: private to its writer, open for reading."""
    path.write_bytes(content)
    os.chmod(path, mode)
    fd = os.open(path, os.O_RDONLY)
    try:
        yield LocalFile(str(path), fd, len(content))
    finally:
        os.close(fd)


def test_a_whole_file_as_first_content_is_linked_not_copied(root, driver, tmp_path):
    body = os.urandom(3 * MIB)
    old = os.umask(0o022)
    try:
        with spooled(tmp_path / "0000000001", body) as source:
            writer = driver.writer("/up/data")
            writer.append_file(source)
            writer.commit()
            committed = (root / "up" / "data").stat()
            assert committed.st_ino == os.fstat(source.fd).st_ino
    finally:
        os.umask(old)
    # It looks as if this process had written it: its owner, the umask's mode (not nginx's 0600).
    assert committed.st_mode & 0o777 == 0o644 and committed.st_uid == os.geteuid()
    assert driver.get_content("/up/data") == body
    driver.delete("/up")


def test_a_file_appended_after_other_bytes_is_copied(root, driver, tmp_path):
    body = os.urandom(2 * MIB + 5)
    with driver.writer("/up/data") as writer:
        writer.write(b"head")
    with spooled(tmp_path / "0000000002", body) as source:
        resumed = driver.writer("/up/data", append=True)
        resumed.append_file(source)
        resumed.commit()
        assert (root / "up" / "data").stat().st_ino != os.fstat(source.fd).st_ino
    assert driver.get_content("/up/data") == b"head" + body
    driver.delete("/up")


@pytest.mark.parametrize("broken", ["link", "copy_file_range"])
def test_append_file_falls_back_when_the_kernel_cannot_link_or_copy(root, driver, tmp_path, monkeypatch, broken):
    def refuse(*_args, **_kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, broken, refuse)
    first, second = os.urandom(MIB + 1), os.urandom(2 * MIB + 3)
    with spooled(tmp_path / "0000000003", first) as a, spooled(tmp_path / "0000000004", second) as b:
        writer = driver.writer("/up/data")
        writer.append_file(a)  # a link, unless links are broken
        writer.append_file(b)  # a copy
        writer.commit()
    assert driver.get_content("/up/data") == first + second
    driver.delete("/up")


def test_a_link_must_reach_the_file_that_was_opened(root, driver, tmp_path):
    # Whoever can write the spool folder could swap the name after the registry opened the file:
    # the bytes stored are those behind the descriptor, whatever the name points to by then.
    opened = os.urandom(MIB)
    with spooled(tmp_path / "0000000005", opened) as source:
        os.unlink(source.path)
        (tmp_path / "0000000005").write_bytes(b"x" * MIB)
        writer = driver.writer("/up/data")
        writer.append_file(source)
        writer.commit()
    assert driver.get_content("/up/data") == opened
    driver.delete("/up")


def test_a_failed_copy_leaves_the_pending_file_as_long_as_its_size(root, driver, tmp_path):
    with driver.writer("/up/data") as writer:
        writer.write(b"before")
    with spooled(tmp_path / "0000000006", b"z" * MIB) as source:
        resumed = driver.writer("/up/data", append=True)
        with pytest.raises(StorageError):
            resumed.append_file(LocalFile(source.path, source.fd, MIB + 1))  # the file is shorter
        assert resumed.size == len(b"before")
        assert (root / "up" / f"data{PARTIAL_SUFFIX}").stat().st_size == len(b"before")
        resumed.write(b"after")
        resumed.commit()
    assert driver.get_content("/up/data") == b"beforeafter"
    driver.delete("/up")


def test_large_writes_are_synced_behind_and_commit_reports_a_failed_sync(root, driver, tmp_path, monkeypatch):
    monkeypatch.setattr(filesystem, "SYNC_BEHIND_BYTES", MIB)
    synced = []
    real_fdatasync = os.fdatasync

    def fdatasync(fd):
        synced.append(threading.current_thread().name)
        if len(synced) == 1:
            raise OSError(errno.EIO, "Input/output error")
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    writer = driver.writer("/up/data")
    writer.write(os.urandom(2 * MIB))
    with pytest.raises(StorageError, match="Input/output error"):
        writer.commit()  # the helper's failure surfaces: the data may not be on disk
    assert synced[0] == "berth-sync-behind"
    with pytest.raises(PathNotFound):
        driver.stat("/up/data")  # nothing became visible

    content = os.urandom(2 * MIB)
    writer = driver.writer("/up/data")
    writer.write(content)
    writer.commit()
    assert synced[1:] == ["berth-sync-behind", "MainThread"]
    assert driver.get_content("/up/data") == content
    driver.delete("/up")
