"""Storage drivers by name: a registry of factories, and the driver the settings ask for.

``create(name, params)`` builds a driver from a plain dict of parameters and wraps it in
:class:`~berth_registry.storage.base.CheckedDriver` (path validation, slow-operation logs), so
every driver the registry uses gets the same checks. The built-in drivers register themselves
below; their modules are imported on first use, so boto3 is only loaded when S3 is configured.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from berth_common.settings import SettingsError
from berth_registry.storage.base import CheckedDriver, StorageDriver

Factory = Callable[..., StorageDriver]

_factories: dict[str, Factory] = {}


class StorageSettings(Protocol):
    """The storage fields of a service's settings (the registry's and the jobservice's have them)."""

    storage_driver: str
    storage__filesystem__root: str
    storage__s3__bucket: str
    storage__s3__region: str
    storage__s3__endpoint_url: str
    storage__s3__access_key: str
    storage__s3__secret_key: str
    storage__s3__root_directory: str
    storage__s3__chunk_size: int

    @classmethod
    def env_name(cls, field_name: str) -> str: ...


def register(name: str, factory: Factory) -> None:
    """Make ``factory(**params)`` available as driver ``name``; a name can be registered once."""
    if name in _factories:
        raise ValueError(f"storage driver {name!r} is already registered")
    _factories[name] = factory


def known() -> list[str]:
    """Names of the registered drivers, sorted."""
    return sorted(_factories)


def create(name: str, params: Mapping[str, Any] | None = None) -> StorageDriver:
    """Build driver ``name`` with ``params`` (keyword arguments of its constructor), wrapped.

    Raises ValueError for an unknown name (naming the known ones) or parameters the driver
    does not take.
    """
    factory = _factories.get(name)
    if factory is None:
        raise ValueError(f"unknown storage driver {name!r} (known: {', '.join(known())})")
    return CheckedDriver(_call(name, factory, dict(params or {})))


def from_settings(settings: StorageSettings) -> StorageDriver:
    """The driver ``<PREFIX>STORAGE_DRIVER`` names, configured from the other storage settings.

    ``storage__s3__redirect`` is optional (only the registry redirects clients). Raises SettingsError, naming the environment
    variable, when a value the driver needs is missing.
    """
    env = type(settings).env_name
    name = settings.storage_driver
    if name == "filesystem":
        if not settings.storage__filesystem__root:
            raise SettingsError(f"{env('storage__filesystem__root')} is required for the filesystem driver")
        return create(name, {"root": settings.storage__filesystem__root})
    if name == "s3":
        if not settings.storage__s3__bucket:
            raise SettingsError(f"{env('storage__s3__bucket')} is required for the s3 driver")
        if bool(settings.storage__s3__access_key) != bool(settings.storage__s3__secret_key):
            raise SettingsError(f"{env('storage__s3__access_key')} and {env('storage__s3__secret_key')} go together")
        return create(
            name,
            {
                "bucket": settings.storage__s3__bucket,
                "region": settings.storage__s3__region,
                "endpoint_url": settings.storage__s3__endpoint_url or None,
                # Empty keys mean boto3's own chain: environment, instance profile, IRSA.
                "access_key": settings.storage__s3__access_key or None,
                "secret_key": settings.storage__s3__secret_key or None,
                "root_directory": settings.storage__s3__root_directory,
                "chunk_size": settings.storage__s3__chunk_size,
                "redirect": getattr(settings, "storage__s3__redirect", False),
            },
        )
    return create(name, {})


def _call(name: str, factory: Callable[..., Any], params: dict[str, Any]) -> Any:
    """``factory(**params)``, refusing parameters it does not take with a ValueError naming the driver."""
    try:
        inspect.signature(factory).bind(**params)
    except TypeError as error:
        raise ValueError(f"bad parameters for storage driver {name!r}: {error}") from None
    return factory(**params)


def _filesystem(**params: Any) -> StorageDriver:
    from berth_registry.storage.filesystem import FilesystemDriver

    return _call("filesystem", FilesystemDriver, params)


def _s3(**params: Any) -> StorageDriver:
    from berth_registry.storage.s3 import S3Driver

    return _call("s3", S3Driver, params)


def _inmemory(**params: Any) -> StorageDriver:
    from berth_registry.storage.inmemory import InMemoryDriver

    return _call("inmemory", InMemoryDriver, params)


register("filesystem", _filesystem)
register("s3", _s3)
register("inmemory", _inmemory)
