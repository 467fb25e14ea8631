"""The name grammar: what may become part of a SQL parameter or a storage path."""

from __future__ import annotations

import pytest

from berth_registry import names


@pytest.mark.parametrize("name", ["a/b", "library/ubuntu", "p/a/b/c", "p0/x.y", "p/x_y", "p/x__y", "p/x--y", "p/" + "a" * 253])
def test_valid_repositories(name):
    parsed = names.repository(name)
    assert parsed.full == name
    assert parsed.project == name.split("/")[0]
    assert parsed.short == name.split("/", 1)[1]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "A/b",
        "a/B",
        "a/",
        "/a",
        "a//b",
        "a/../b",
        "a/./b",
        "a/b\n",
        "a/b ",
        "a/_b",
        "a/b_",
        "a/b___c",
        "a/b.-c",
        "p/" + "a" * 254,
        "a/b%2f",
    ],
)
def test_invalid_repositories(name):
    with pytest.raises(names.InvalidRepositoryName):
        names.repository(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b_c.d", "x" * 128])
def test_valid_tags(tag):
    assert names.tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a/b", "a:b", "x" * 129, "latest\n", "a b"])
def test_invalid_tags(tag):
    with pytest.raises(names.InvalidTag):
        names.tag(tag)


@pytest.mark.parametrize("digest", ["sha256:" + "0" * 64, "sha512:" + "f" * 128])
def test_valid_digests(digest):
    assert names.digest(digest) == digest and names.is_digest(digest)


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "0" * 63,
        "sha256:" + "F" * 64,
        "sha512:" + "0" * 64,
        "md5:" + "0" * 32,
        "sha256:" + "0" * 64 + "\n",
        "sha256:../" + "0" * 61,
    ],
)
def test_invalid_digests(digest):
    assert not names.is_digest(digest)
    with pytest.raises(names.InvalidDigest):
        names.digest(digest)


def test_upload_ids():
    assert str(names.upload_id("0b5e2b8e-9f8c-4d3a-8a9b-2f8e6c1d0a11")) == "0b5e2b8e-9f8c-4d3a-8a9b-2f8e6c1d0a11"
    for bad in ("..", "0B5E2B8E-9F8C-4D3A-8A9B-2F8E6C1D0A11", "{0b5e2b8e-9f8c-4d3a-8a9b-2f8e6c1d0a11}", "x"):
        with pytest.raises(names.InvalidUploadId):
            names.upload_id(bad)
