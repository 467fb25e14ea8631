"""Domain exceptions raised by the registry's services; errors.py maps each onto an OCI code.

Services speak in these terms (an upload is unknown, a quota is exceeded) and never choose HTTP
statuses; the single translation table in :mod:`berth_registry.errors` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RegistryError(Exception):
    """Base of domain errors: a message for the client, optional detail and response headers."""

    def __init__(self, message: str = "", detail: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})


class Unauthorized(RegistryError):
    """No valid credentials; ``headers`` carry the Bearer challenge."""


class Denied(RegistryError):
    """Authenticated but not allowed: missing action, read-only mode, quota, immutability."""


class RepositoryUnknown(RegistryError):
    """The repository (or its project) does not exist."""


class BlobUnknown(RegistryError):
    pass


class UploadUnknown(RegistryError):
    pass


class UploadInvalid(RegistryError):
    """The upload request is malformed or the session cannot take it right now."""


class RangeNotSatisfiable(RegistryError):
    """A chunk out of order or a read range outside the content (416)."""


class DigestInvalid(RegistryError):
    """The digest is malformed or does not match the content."""


class SizeInvalid(RegistryError):
    """The declared length does not match the content received."""


class ManifestUnknown(RegistryError):
    pass


class ManifestInvalid(RegistryError):
    pass


class ManifestBlobUnknown(RegistryError):
    """The manifest references a blob or child manifest that is not available to it."""


class ManifestTooLarge(RegistryError):
    pass


class Unsupported(RegistryError):
    pass


class PaginationInvalid(RegistryError):
    """``n`` is not a usable page size."""
