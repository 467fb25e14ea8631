"""The upload spool: the registry opens only regular files nginx wrote directly into the spool folder."""

from __future__ import annotations

import os

import pytest

from berth_registry.storage.spool import Spool, SpoolRefused


@pytest.fixture
def folder(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    return spool


def test_opens_a_body_file_with_its_size(folder):
    (folder / "0000000001").write_bytes(b"body bytes")
    with Spool(str(folder)).open(str(folder / "0000000001")) as body:
        assert body.size == 10
        assert body.file.path == str(folder / "0000000001")
        assert os.pread(body.file.fd, 100, 0) == b"body bytes"
        fd = body.file.fd
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the block


def test_the_folder_may_be_named_through_a_symbolic_link(tmp_path, folder):
    (tmp_path / "alias").symlink_to(folder)
    (folder / "0000000002").write_bytes(b"x")
    with Spool(str(tmp_path / "alias")).open(str(folder / "0000000002")) as body:
        assert body.size == 1
    with Spool(str(folder)).open(str(tmp_path / "alias" / "0000000002")) as body:
        assert body.size == 1


def test_refuses_anything_but_a_regular_file_directly_in_the_folder(tmp_path, folder):
    (tmp_path / "0000000003").write_bytes(b"outside")
    (folder / "sub").mkdir()
    (folder / "sub" / "0000000004").write_bytes(b"nested")
    (folder / "0000000005").symlink_to(tmp_path / "0000000003")
    (folder / "0000000006").mkdir()
    os.mkfifo(folder / "0000000007")
    (folder / "notes.txt").write_bytes(b"not nginx's name")
    spool = Spool(str(folder))
    for named in (
        str(tmp_path / "0000000003"),  # another folder
        str(folder / ".." / "0000000003"),  # out through ..
        str(folder / "sub" / "0000000004"),  # a subfolder
        "0000000003",  # relative
        str(folder / "0000000005"),  # a symbolic link
        str(folder / "0000000006"),  # a directory
        str(folder / "0000000007"),  # a FIFO
        str(folder / "notes.txt"),  # not nginx's kind of name
        str(folder / "0000000099"),  # missing
        "",
    ):
        with pytest.raises(SpoolRefused):
            Spool.open(spool, named).close()


def test_the_folder_must_be_absolute():
    for bad in ("", "relative/spool"):
        with pytest.raises(ValueError, match="absolute"):
            Spool(bad)
