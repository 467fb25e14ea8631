"""The registry's storage driver for the jobs that delete from it (PURGE_UPLOAD, later GC).

Built by berth_registry's own factory from the registry's own ``REGISTRY_STORAGE_*`` variables
(:class:`~berth_jobservice.settings.StorageSettings`), so the driver, its parameters and their
error messages are exactly the registry's.
"""

from __future__ import annotations

from berth_jobservice.settings import StorageSettings
from berth_registry.storage import factory
from berth_registry.storage.base import StorageDriver


def from_environment() -> StorageDriver:
    """The configured driver; raises SettingsError naming the variable that is wrong or missing."""
    # from_settings reads only the storage fields, which StorageSettings declares under the
    # registry's names and defaults (checked by a unit test), so it serves here as it is.
    return factory.from_settings(StorageSettings.from_env())  # type: ignore[arg-type]
