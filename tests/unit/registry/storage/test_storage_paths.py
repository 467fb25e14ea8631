"""The storage key layout: where blobs and uploads go, and that nothing else gets a path."""

from __future__ import annotations

import pytest

from berth_registry.storage import paths
from berth_registry.storage.base import validate_path

SHA256 = "sha256:" + "ab" * 32
SHA512 = "sha512:" + "0f" * 64
UPLOAD = "6f1c2b7e-3d4a-4c5b-9e8f-0a1b2c3d4e5f"


def test_blobs_are_content_addressed_like_distribution():
    assert paths.STORAGE_LAYOUT_VERSION == "v2"
    assert paths.blob_data(SHA256) == f"/docker/registry/v2/blobs/sha256/ab/{'ab' * 32}/data"
    assert paths.blob_dir(SHA512) == f"/docker/registry/v2/blobs/sha512/0f/{'0f' * 64}"
    assert paths.parse_digest(SHA512) == ("sha512", "0f" * 64)


def test_upload_session_files():
    base = f"/docker/registry/v2/uploads/{UPLOAD}"
    assert paths.upload_dir(UPLOAD) == base
    assert paths.upload_data(UPLOAD) == f"{base}/data"
    assert paths.upload_started_at(UPLOAD) == f"{base}/startedat"
    assert paths.upload_hash_states(UPLOAD, "sha256") == f"{base}/hashstates/sha256"
    assert paths.upload_hash_state(UPLOAD, "sha512", 0) == f"{base}/hashstates/sha512/0"
    assert paths.upload_hash_state(UPLOAD, "sha256", 5 * 1024 * 1024) == f"{base}/hashstates/sha256/5242880"


def test_every_path_produced_is_a_valid_driver_path():
    produced = [
        paths.blob_data(SHA256), paths.blob_dir(SHA512), paths.upload_dir(UPLOAD), paths.upload_data(UPLOAD),
        paths.upload_started_at(UPLOAD), paths.upload_hash_state(UPLOAD, "sha256", 123),
    ]  # fmt: skip
    for path in produced:
        assert validate_path(path, "test") == path


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "AB" * 32,  # upper case
        "sha256:" + "ab" * 31,  # short
        "sha256:" + "ab" * 33,  # long
        "sha512:" + "ab" * 32,  # sha256 length under sha512
        "sha256:" + "ab" * 31 + "/.",
        "sha256:../../../../etc/passwd",
        "md5:" + "ab" * 16,
        "sha256" + "ab" * 32,
        "ab" * 32,
        "",
        None,
        b"sha256:" + b"ab" * 32,
    ],
)
def test_bad_digests_raise_value_error(digest):
    with pytest.raises(ValueError):
        paths.blob_data(digest)


@pytest.mark.parametrize(
    "upload",
    [
        UPLOAD.upper(),
        "{" + UPLOAD + "}",
        "urn:uuid:" + UPLOAD,
        UPLOAD.replace("-", ""),
        "../" + UPLOAD,
        UPLOAD + "/..",
        "",
        None,
        42,
    ],
)
def test_bad_upload_ids_raise_value_error(upload):
    with pytest.raises(ValueError):
        paths.upload_data(upload)


@pytest.mark.parametrize(
    ("algorithm", "offset"), [("md5", 0), ("sha256/..", 0), ("sha256", -1), ("sha256", "10"), ("sha256", True), ("sha256", 1.5)]
)
def test_bad_hash_state_arguments_raise_value_error(algorithm, offset):
    with pytest.raises(ValueError):
        paths.upload_hash_state(UPLOAD, algorithm, offset)
