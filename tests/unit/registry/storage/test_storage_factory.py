"""Driver registry and construction from settings; the checking wrapper every driver gets."""

from __future__ import annotations

import dataclasses

import pytest
import structlog

from berth_common.settings import Settings, SettingsError, setting
from berth_registry.settings import RegistrySettings
from berth_registry.storage import factory
from berth_registry.storage.base import CheckedDriver, InvalidPath
from berth_registry.storage.filesystem import FilesystemDriver
from berth_registry.storage.inmemory import InMemoryDriver
from berth_registry.storage.s3 import S3Driver

REQUIRED = {"database_url": "postgresql://unused", "token_cert_path": "/unused", "token_realm": "http://x/service/token"}


def settings(**overrides) -> RegistrySettings:
    return RegistrySettings.from_env({}, **{**REQUIRED, **overrides})


@pytest.fixture
def isolated_registry(monkeypatch):
    """Register test drivers without leaving them behind for other tests."""
    monkeypatch.setattr(factory, "_factories", dict(factory._factories))


def test_builtin_drivers_are_registered():
    assert factory.known() == ["filesystem", "inmemory", "s3"]


def test_create_wraps_the_driver(tmp_path):
    driver = factory.create("filesystem", {"root": str(tmp_path)})
    assert isinstance(driver, CheckedDriver) and isinstance(driver.inner, FilesystemDriver)
    assert driver.name == "filesystem"
    with pytest.raises(InvalidPath):
        driver.stat("/../outside")


def test_unknown_driver_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown storage driver 'gcs' \(known: filesystem, inmemory, s3\)"):
        factory.create("gcs", {})


def test_bad_parameters_name_the_driver(tmp_path):
    with pytest.raises(ValueError, match="bad parameters for storage driver 'filesystem'.*'root'"):
        factory.create("filesystem", {"rot": str(tmp_path)})
    with pytest.raises(ValueError, match="bad parameters for storage driver 'filesystem'.*'buffer'"):
        factory.create("filesystem", {"root": str(tmp_path), "buffer": 1})
    with pytest.raises(ValueError, match="bad parameters for storage driver 's3'"):
        factory.create("s3", {})
    with pytest.raises(ValueError, match="chunk_size must be at least"):
        factory.create("s3", {"bucket": "b", "chunk_size": 1024})


def test_register_refuses_a_duplicate_name(isolated_registry):
    factory.register("custom", InMemoryDriver)
    assert isinstance(factory.create("custom").inner, InMemoryDriver)
    with pytest.raises(ValueError, match="already registered"):
        factory.register("custom", InMemoryDriver)
    with pytest.raises(ValueError, match="already registered"):
        factory.register("s3", InMemoryDriver)


def test_from_settings_filesystem(tmp_path):
    driver = factory.from_settings(settings(storage_driver="filesystem", storage__filesystem__root=str(tmp_path / "blobs")))
    assert isinstance(driver.inner, FilesystemDriver) and driver.inner.root == str(tmp_path / "blobs")
    assert (tmp_path / "blobs").is_dir()


def test_from_settings_inmemory():
    assert isinstance(factory.from_settings(settings(storage_driver="inmemory")).inner, InMemoryDriver)


def test_from_settings_s3_passes_every_setting():
    driver = factory.from_settings(
        settings(
            storage_driver="s3", storage__s3__bucket="blobs", storage__s3__region="eu-west-1",
            storage__s3__endpoint_url="http://127.0.0.1:9000", storage__s3__access_key="AK", storage__s3__secret_key="SK",
            storage__s3__root_directory="/berth/", storage__s3__chunk_size=8 * 1024 * 1024, storage__s3__redirect=True,
        )  # fmt: skip
    )
    inner = driver.inner
    assert isinstance(inner, S3Driver)
    assert (inner.bucket, inner.prefix, inner.chunk_size, inner.redirect) == ("blobs", "berth/", 8 * 1024 * 1024, True)
    assert inner.client.meta.region_name == "eu-west-1"
    assert inner.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert "SK" not in repr(driver)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"storage_driver": "s3"}, "REGISTRY_STORAGE__S3__BUCKET"),
        ({"storage_driver": "s3", "storage__s3__bucket": "b", "storage__s3__secret_key": "SK"}, "REGISTRY_STORAGE__S3__ACCESS_KEY"),
        ({"storage_driver": "filesystem", "storage__filesystem__root": ""}, "REGISTRY_STORAGE__FILESYSTEM__ROOT"),
    ],
)
def test_from_settings_names_a_missing_setting(overrides, variable):
    with pytest.raises(SettingsError, match=variable):
        factory.from_settings(settings(**overrides))


@dataclasses.dataclass(frozen=True, repr=False)
class OtherServiceSettings(Settings):
    """Another service's settings with the same storage fields (as the jobservice has)."""

    PREFIX = "OTHER_"

    storage_driver: str = setting(str, "filesystem")
    storage__filesystem__root: str = setting(str, "")
    storage__s3__bucket: str = setting(str, "")
    storage__s3__region: str = setting(str, "us-east-1")
    storage__s3__endpoint_url: str = setting(str, "")
    storage__s3__access_key: str = setting(str, "", secret=True)
    storage__s3__secret_key: str = setting(str, "", secret=True)
    storage__s3__root_directory: str = setting(str, "")
    storage__s3__chunk_size: int = setting(int, 10 * 1024 * 1024)


def test_from_settings_serves_other_services_too(tmp_path):
    with pytest.raises(SettingsError, match="OTHER_STORAGE__S3__BUCKET is required"):
        factory.from_settings(OtherServiceSettings.from_env({"OTHER_STORAGE_DRIVER": "s3"}))
    s3 = factory.from_settings(OtherServiceSettings.from_env({"OTHER_STORAGE_DRIVER": "s3", "OTHER_STORAGE__S3__BUCKET": "b"}))
    assert isinstance(s3.inner, S3Driver) and s3.inner.redirect is False
    filesystem = factory.from_settings(OtherServiceSettings.from_env({"OTHER_STORAGE__FILESYSTEM__ROOT": str(tmp_path)}))
    assert isinstance(filesystem.inner, FilesystemDriver)


def test_slow_operations_are_logged_without_content():
    driver = CheckedDriver(InMemoryDriver(), slow_seconds=0)
    with structlog.testing.capture_logs() as logs:
        driver.put_content("/slow/file", b"secret bytes")
        with driver.writer("/slow/other") as writer:
            writer.write(b"more")
            writer.commit()
    events = [(entry["event"], entry["operation"], entry["path"]) for entry in logs]
    assert ("storage_slow_operation", "put_content", "/slow/file") in events
    assert ("storage_slow_operation", "commit", "/slow/other") in events
    assert all(entry["driver"] == "inmemory" and isinstance(entry["seconds"], float) for entry in logs)
    assert "secret bytes" not in repr(logs)


def test_fast_operations_are_not_logged():
    driver = CheckedDriver(InMemoryDriver())
    with structlog.testing.capture_logs() as logs:
        driver.put_content("/quick", b"x")
        driver.delete("/quick")
    assert logs == []
