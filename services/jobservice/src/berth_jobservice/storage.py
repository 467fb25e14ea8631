"""The registry's storage driver, built from the jobservice's ``JOBSERVICE_STORAGE_*`` settings.

Same names and meaning as the registry's ``REGISTRY_STORAGE_*`` (prepare renders both from the
one storage section of berth.yml); the driver itself comes from berth_registry's factory.
"""

from __future__ import annotations

from berth_common.settings import SettingsError
from berth_jobservice.settings import JobserviceSettings
from berth_registry.storage import factory
from berth_registry.storage.base import StorageDriver


def from_settings(settings: JobserviceSettings) -> StorageDriver:
    """The configured driver; raises SettingsError naming the variable that is missing."""
    name = settings.storage_driver
    if name == "filesystem":
        if not settings.storage__filesystem__root:
            raise SettingsError("JOBSERVICE_STORAGE__FILESYSTEM__ROOT is required for the filesystem driver")
        return factory.create(name, {"root": settings.storage__filesystem__root})
    if name == "s3":
        if not settings.storage__s3__bucket:
            raise SettingsError("JOBSERVICE_STORAGE__S3__BUCKET is required for the s3 driver")
        return factory.create(
            name,
            {
                "bucket": settings.storage__s3__bucket,
                "region": settings.storage__s3__region,
                "endpoint_url": settings.storage__s3__endpoint_url or None,
                "access_key": settings.storage__s3__access_key or None,
                "secret_key": settings.storage__s3__secret_key or None,
                "root_directory": settings.storage__s3__root_directory,
                "chunk_size": settings.storage__s3__chunk_size,
            },
        )
    return factory.create(name, {})
