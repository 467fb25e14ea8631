"""What only the filesystem driver does: partial files, renames, its root, plain readers, buffering."""

from __future__ import annotations

import concurrent.futures
import io
import os

import pytest

from berth_registry.storage import factory
from berth_registry.storage.base import InvalidPath
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
