"""Parsing and classifying the manifest formats the registry accepts.

Accepted: Docker schema 2 image manifests and manifest lists, OCI image manifests and indexes
(including OCI 1.1 artifacts with ``artifactType`` and ``subject``). Docker schema 1 is refused,
as current Harbor does. Pure functions: no database, no storage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from berth_registry import names
from berth_registry.services.exceptions import ManifestInvalid

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

# Layers the registry never has to hold: their bytes live at the descriptor's URLs.
NON_DISTRIBUTABLE = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)

# Harbor's artifact types by config media type (anything else is UNKNOWN; indexes are IMAGE).
IMAGE_CONFIGS = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
TYPES_BY_CONFIG = {
    **{media_type: "IMAGE" for media_type in IMAGE_CONFIGS},
    "application/vnd.cncf.helm.config.v1+json": "CHART",
    "application/vnd.cnab.config.v1+json": "CNAB",
    "application/vnd.wasm.config.v1+json": "WASM",
    "application/vnd.module.wasm.config.v1+json": "WASM",
    "application/vnd.goharbor.harbor.sbom.v1": "SBOM",
}


@dataclasses.dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    platform: Mapping[str, Any] | None = None
    artifact_type: str = ""

    @property
    def distributable(self) -> bool:
        """Whether the registry must hold the bytes (foreign layers with URLs need not)."""
        return not (self.media_type in NON_DISTRIBUTABLE or self.urls)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What the registry needs to know about an uploaded manifest."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    children: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str  # the manifest's own artifactType field, "" when absent
    annotations: Mapping[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def required_blobs(self) -> list[str]:
        """Digests of the blobs that must be in the project: the config and distributable layers."""
        needed = [self.config.digest] if self.config else []
        needed += [layer.digest for layer in self.layers if layer.distributable]
        return list(dict.fromkeys(needed))

    @property
    def harbor_type(self) -> str:
        """Harbor's ``artifact.type``: IMAGE, CHART, CNAB, WASM, SBOM or UNKNOWN."""
        if self.is_index:
            return "IMAGE"
        return TYPES_BY_CONFIG.get(self.config.media_type if self.config else "", "UNKNOWN")

    @property
    def effective_artifact_type(self) -> str:
        """``artifactType``, else the config media type (OCI 1.1 referrers rule; "" for indexes)."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else ""


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, Mapping):
        raise ManifestInvalid(f"{where} is not a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}: mediaType is missing")
    if not isinstance(digest, str) or not names.is_digest(digest):
        raise ManifestInvalid(f"{where}: invalid digest {digest!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}: size must be a non-negative integer")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ManifestInvalid(f"{where}: urls must be a list of strings")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, Mapping):
        raise ManifestInvalid(f"{where}: platform must be an object")
    artifact_type = value.get("artifactType") or ""
    if not isinstance(artifact_type, str):
        raise ManifestInvalid(f"{where}: artifactType must be a string")
    return Descriptor(media_type, digest, size, tuple(urls), _annotations(value, where), platform, artifact_type)


def _annotations(value: Mapping[str, Any], where: str) -> dict[str, str]:
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise ManifestInvalid(f"{where}: annotations must map strings to strings")
    return dict(annotations)


def _media_type(document: Mapping[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    header = (content_type or "").split(";", 1)[0].strip().lower()
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    if declared in DOCKER_SCHEMA1 or header in DOCKER_SCHEMA1 or document.get("schemaVersion") == 1:
        raise ManifestInvalid("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if declared:
        if declared not in INDEX_TYPES + MANIFEST_TYPES:
            raise ManifestInvalid(f"unsupported manifest media type {declared!r}")
        if header and header in INDEX_TYPES + MANIFEST_TYPES and header != declared:
            raise ManifestInvalid(f"Content-Type {header!r} does not match the manifest's mediaType {declared!r}")
        return declared
    if header in INDEX_TYPES + MANIFEST_TYPES:
        return header
    # OCI allows omitting mediaType; tell an index from a manifest by its shape.
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def parse(body: bytes, content_type: str | None) -> Manifest:
    """Parse and validate a manifest; raises ManifestInvalid naming the first problem."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ManifestInvalid("manifest is not valid JSON") from None
    if not isinstance(document, Mapping):
        raise ManifestInvalid("manifest is not a JSON object")
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    artifact_type = document.get("artifactType") or ""
    if not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType must be a string")
    subject = _descriptor(document["subject"], "subject") if document.get("subject") is not None else None
    annotations = _annotations(document, "manifest")
    if media_type in INDEX_TYPES:
        children = document.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("an index needs a manifests list")
        return Manifest(
            media_type,
            None,
            (),
            tuple(_descriptor(child, f"manifests[{i}]") for i, child in enumerate(children)),
            subject,
            artifact_type,
            annotations,
        )
    layers = document.get("layers", [])
    if not isinstance(layers, list):
        raise ManifestInvalid("layers must be a list")
    if "config" not in document:
        raise ManifestInvalid("an image manifest needs a config descriptor")
    config = _descriptor(document["config"], "config")
    return Manifest(
        media_type,
        config,
        tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)),
        (),
        subject,
        artifact_type,
        annotations,
    )


def image_attributes(config: bytes) -> dict[str, Any]:
    """Harbor's ``extra_attrs`` of an image from its config blob (architecture, os, ...)."""
    try:
        document = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(document, Mapping):
        return {}
    keys = ("architecture", "os", "os.version", "variant", "author", "created", "config")
    return {key: document[key] for key in keys if key in document}
