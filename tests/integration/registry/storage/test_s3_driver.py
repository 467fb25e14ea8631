"""What only the S3 driver does: its pending-upload layout, crash recovery, copies, presigning.

The shared behaviour is in test_s3_conformance.py; these tests look at the raw bucket and at the
requests the driver makes (through botocore's event hooks) to check the S3-specific design.
"""

from __future__ import annotations

import collections
import urllib.request
from collections.abc import Iterator

import pytest

from berth_common.settings import SettingsError
from berth_registry.settings import RegistrySettings
from berth_registry.storage import factory
from berth_registry.storage.base import PathNotFound, StorageDriver, StorageError, Unsupported
from berth_registry.storage.s3 import TAIL_SUFFIX, S3Driver
from support.s3 import S3Bucket
from unit.registry.storage.test_driver_conformance import CHUNK, MIB, data, read_all

ROOT = "registry/root"


def s3_driver(s3: S3Bucket, **overrides) -> StorageDriver:
    return factory.create("s3", s3.driver_params(root_directory=ROOT, chunk_size=CHUNK) | overrides)


def record_operations(driver: StorageDriver) -> collections.Counter:
    """Count the S3 operations ``driver`` sends from now on, by name."""
    calls: collections.Counter = collections.Counter()
    inner = driver.inner  # type: ignore[attr-defined] - the CheckedDriver's backend
    inner.client.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))
    return calls


@pytest.fixture
def driver(s3: S3Bucket) -> Iterator[StorageDriver]:
    yield s3_driver(s3)
    assert s3.object_keys() == [] and s3.uploads() == [], "test left content in the bucket"


def test_every_key_lives_under_the_root_directory(s3: S3Bucket, driver: StorageDriver) -> None:
    driver.put_content("/docker/file", b"x")
    writer = driver.writer("/docker/pending")
    writer.write(data(CHUNK + 10))
    writer.close()
    assert s3.object_keys() == [f"{ROOT}/docker/file", f"{ROOT}/docker/pending{TAIL_SUFFIX}"]
    assert [key for key, _ in s3.uploads()] == [f"{ROOT}/docker/pending"]
    assert driver.list("/") == ["/docker"]
    driver.delete("/docker")


def test_without_a_root_directory_keys_start_at_the_bucket_root(s3: S3Bucket) -> None:
    driver = s3_driver(s3, root_directory="")
    driver.put_content("/top/file", b"x")
    driver.put_content("/other", b"y")
    assert s3.object_keys() == ["other", "top/file"]
    assert driver.list("/") == ["/other", "/top"]
    assert [(info.path, info.is_dir) for info in driver.walk("/")] == [("/other", False), ("/top", True), ("/top/file", False)]
    driver.delete("/top")
    driver.delete("/other")
    assert s3.object_keys() == []


def test_pending_content_is_full_parts_plus_a_tail_object(s3: S3Bucket, driver: StorageDriver) -> None:
    content = data(2 * CHUNK + MIB, seed=1)
    writer = driver.writer("/up/data")
    writer.write(content)
    writer.close()

    [(key, upload_id)] = s3.uploads()
    parts = s3.client.list_parts(Bucket=s3.bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [(part["PartNumber"], part["Size"]) for part in parts] == [(1, CHUNK), (2, CHUNK)]
    tail = s3.client.get_object(Bucket=s3.bucket, Key=key + TAIL_SUFFIX)
    assert tail["Body"].read() == content[2 * CHUNK :]
    assert tail["Metadata"] == {"upload-id": upload_id, "parts": "2"}

    resumed = s3_driver(s3).writer("/up/data", append=True)
    assert resumed.size == len(content)
    resumed.commit()
    assert s3.uploads() == [] and s3.object_keys() == [f"{ROOT}/up/data"]
    assert read_all(driver, "/up/data") == content
    driver.delete("/up")


def test_a_blob_smaller_than_a_chunk_is_one_put(driver: StorageDriver) -> None:
    calls = record_operations(driver)
    with driver.writer("/small/data") as writer:
        writer.write(data(MIB))
        writer.write(data(MIB, seed=2))
        writer.commit()
    assert calls["PutObject"] == 1
    assert "CreateMultipartUpload" not in calls and "UploadPart" not in calls
    driver.delete("/small")


def test_the_tail_joins_the_next_part_on_resume(s3: S3Bucket, driver: StorageDriver) -> None:
    first = driver.writer("/join/data")
    first.write(data(3 * MIB, seed=3))
    first.close()
    assert s3.uploads() == []  # no full chunk yet: the tail alone holds the content

    elsewhere = s3_driver(s3)
    calls = record_operations(elsewhere)
    second = elsewhere.writer("/join/data", append=True)
    second.write(data(3 * MIB, seed=4))  # tail + this crosses one chunk
    second.close()
    assert calls["UploadPart"] == 1
    [(key, upload_id)] = s3.uploads()
    parts = s3.client.list_parts(Bucket=s3.bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [part["Size"] for part in parts] == [CHUNK]
    tail = s3.client.get_object(Bucket=s3.bucket, Key=key + TAIL_SUFFIX)
    assert tail["ContentLength"] == 6 * MIB - CHUNK and tail["Metadata"]["parts"] == "1"

    s3_driver(s3).writer("/join/data", append=True).commit()
    assert read_all(driver, "/join/data") == data(3 * MIB, seed=3) + data(3 * MIB, seed=4)
    driver.delete("/join")


def test_a_tail_already_folded_into_a_part_is_ignored(s3: S3Bucket, driver: StorageDriver) -> None:
    # A writer that sent a part holding the old tail and died before close() leaves a stale tail.
    first = driver.writer("/crash/data")
    first.write(data(MIB, seed=5))
    first.close()
    dying = s3_driver(s3).writer("/crash/data", append=True)
    dying.write(data(CHUNK, seed=6))  # uploads part 1 = old tail + 4 MiB; 1 MiB stays in memory
    del dying  # the process dies here: no close

    survivor = s3_driver(s3).writer("/crash/data", append=True)
    assert survivor.size == CHUNK  # the part counts, the stale tail does not
    assert f"{ROOT}/crash/data{TAIL_SUFFIX}" not in s3.object_keys()
    survivor.commit()
    assert read_all(driver, "/crash/data") == (data(MIB, seed=5) + data(CHUNK, seed=6))[:CHUNK]
    driver.delete("/crash")


def test_move_above_the_threshold_is_a_multipart_copy(s3: S3Bucket) -> None:
    driver = s3_driver(s3, multipart_copy_threshold=6 * MIB, multipart_copy_chunk_size=CHUNK)
    content = data(2 * CHUNK + 1234, seed=7)
    driver.put_content("/copy/source", content)
    calls = record_operations(driver)
    driver.move("/copy/source", "/copy/destination")
    assert calls["UploadPartCopy"] == 3 and calls["CompleteMultipartUpload"] == 1 and "CopyObject" not in calls
    assert read_all(driver, "/copy/destination") == content
    with pytest.raises(PathNotFound):
        driver.stat("/copy/source")

    driver.put_content("/copy/small", b"small")
    calls.clear()
    driver.move("/copy/small", "/copy/moved")
    assert calls["CopyObject"] == 1 and "UploadPartCopy" not in calls
    driver.delete("/copy")
    assert s3.object_keys() == [] and s3.uploads() == []


def test_redirect_urls_are_presigned_and_only_when_enabled(s3: S3Bucket) -> None:
    redirecting = s3_driver(s3, redirect=True)
    redirecting.put_content("/blob/data", b"presigned bytes")
    url = redirecting.redirect_url("/blob/data", expires_in=60)
    assert url is not None and "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"presigned bytes"
    head = urllib.request.Request(redirecting.redirect_url("/blob/data", method="HEAD"), method="HEAD")
    with urllib.request.urlopen(head, timeout=30) as response:
        assert response.headers["Content-Length"] == str(len(b"presigned bytes"))
    with pytest.raises(Unsupported):
        redirecting.redirect_url("/blob/data", method="PUT")
    assert s3_driver(s3).redirect_url("/blob/data") is None
    redirecting.delete("/blob")


def test_from_settings_builds_the_configured_driver(s3: S3Bucket) -> None:
    settings = RegistrySettings.from_env(
        {"REGISTRY_DATABASE_URL": "postgresql://unused", "REGISTRY_TOKEN_CERT_PATH": "/unused", "REGISTRY_TOKEN_REALM": "http://x"},
        storage_driver="s3",
        storage__s3__bucket=s3.bucket,
        storage__s3__region=s3.region,
        storage__s3__endpoint_url=s3.endpoint_url,
        storage__s3__access_key=s3.access_key,
        storage__s3__secret_key=s3.secret_key,
        storage__s3__root_directory="/from/settings/",
        storage__s3__redirect=True,
    )
    driver = factory.from_settings(settings)
    assert isinstance(driver.inner, S3Driver)  # type: ignore[attr-defined]
    driver.put_content("/file", b"configured")
    assert s3.object_keys() == ["from/settings/file"]
    assert driver.redirect_url("/file") is not None
    assert driver.inner.chunk_size == settings.storage__s3__chunk_size  # type: ignore[attr-defined]
    driver.delete("/file")

    with pytest.raises(SettingsError, match="REGISTRY_STORAGE__S3__SECRET_KEY"):
        factory.from_settings(RegistrySettings.from_env({}, **{**_required(), "storage_driver": "s3", "storage__s3__bucket": "b",
                                                               "storage__s3__access_key": "only-one"}))  # fmt: skip


def _required() -> dict[str, str]:
    return {"database_url": "postgresql://unused", "token_cert_path": "/unused", "token_realm": "http://x"}


def test_a_missing_bucket_is_a_storage_error_not_a_missing_path(s3: S3Bucket) -> None:
    driver = factory.create("s3", s3.driver_params(bucket=f"{s3.bucket}-absent"))
    with pytest.raises(StorageError, match="does not exist") as raised:
        driver.get_content("/anything")
    assert not isinstance(raised.value, PathNotFound)


def test_unreachable_endpoint_is_a_storage_error(s3: S3Bucket) -> None:
    driver = factory.create("s3", s3.driver_params(endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(StorageError, match="EndpointConnectionError"):
        driver.stat("/anything")
