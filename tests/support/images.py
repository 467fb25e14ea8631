"""Write OCI image layouts on disk for real clients (skopeo ``oci:`` transport, podman, buildah).

Layers are real gzipped tar archives (one random file each) and the config lists their
``diff_ids``, so an image can be pulled *and* unpacked, not only copied::

    image = write_layout(tmp_path / "layout", tag="v1", platforms=[("linux", "amd64"), ("linux", "arm64")])
    subprocess.run(["skopeo", "copy", "--all", f"oci:{image.path}:v1", "docker://..."])

Everything is deterministic for a given ``seed`` (same bytes, same digests), random otherwise.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclasses.dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self, **extra: object) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclasses.dataclass(frozen=True)
class LayoutImage:
    """What was written: the layout directory, the tag, and the digests a registry must keep."""

    path: Path
    tag: str
    digest: str  # the tagged manifest or index
    media_type: str
    manifests: dict[str, str]  # "os/arch" -> image manifest digest
    blobs: list[str]  # every layer and config digest

    @property
    def reference(self) -> str:
        """``oci:<dir>:<tag>`` for skopeo."""
        return f"oci:{self.path}:{self.tag}"


class _Layout:
    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def put(self, media_type: str, data: bytes) -> Descriptor:
        hex_digest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / hex_digest).write_bytes(data)
        return Descriptor(media_type, f"sha256:{hex_digest}", len(data))

    def put_json(self, media_type: str, document: dict[str, object]) -> Descriptor:
        return self.put(media_type, json.dumps(document, separators=(",", ":")).encode())


def _layer(rng: random.Random, size: int, name: str) -> tuple[bytes, str]:
    """A gzipped tar with one file of ``size`` random bytes; returns (blob, diff_id)."""
    payload = rng.randbytes(size)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = archive.getvalue()
    return gzip.compress(tar_bytes, mtime=0), f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"


def write_layout(
    directory: Path,
    *,
    tag: str = "latest",
    layers: int = 2,
    layer_size: int = 64 * 1024,
    platforms: Iterable[tuple[str, str]] = (("linux", "amd64"),),
    index: bool | None = None,
    seed: int | None = None,
) -> LayoutImage:
    """Create (or add to) an OCI image layout at ``directory`` and tag one image in it.

    With several ``platforms`` (or ``index=True``) the tag names an image index over one image
    per platform; otherwise it names the single image manifest.
    """
    rng = random.Random(seed if seed is not None else int.from_bytes(os.urandom(8), "big"))
    layout = _Layout(directory)
    platforms = list(platforms)
    manifests: dict[str, Descriptor] = {}
    blobs: list[str] = []
    for os_name, arch in platforms:
        layer_descriptors, diff_ids = [], []
        for number in range(layers):
            blob, diff_id = _layer(rng, layer_size, f"{arch}-layer-{number}.bin")
            layer_descriptors.append(layout.put(OCI_LAYER_GZIP, blob))
            diff_ids.append(diff_id)
        config = layout.put_json(
            OCI_CONFIG,
            {
                "architecture": arch,
                "os": os_name,
                "created": "2024-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"berth test layer {i}"} for i in range(layers)],
            },
        )
        blobs += [d.digest for d in layer_descriptors] + [config.digest]
        manifests[f"{os_name}/{arch}"] = layout.put_json(
            OCI_MANIFEST,
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": [d.to_json() for d in layer_descriptors]},
        )
    if index is None:
        index = len(platforms) > 1
    if index:
        entries = [
            descriptor.to_json(platform={"os": platform.split("/")[0], "architecture": platform.split("/")[1]})
            for platform, descriptor in manifests.items()
        ]
        tagged = layout.put_json(OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    else:
        tagged = next(iter(manifests.values()))
    _add_to_index(directory, tagged, tag)
    return LayoutImage(directory, tag, tagged.digest, tagged.media_type, {p: d.digest for p, d in manifests.items()}, blobs)


def _add_to_index(directory: Path, descriptor: Descriptor, tag: str) -> None:
    """Record ``tag`` in the layout's index.json (replacing an older entry for the same tag)."""
    index_path = directory / "index.json"
    document = json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    document["manifests"] = [m for m in document["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
    document["manifests"].append(descriptor.to_json(annotations={REF_NAME: tag}))
    index_path.write_text(json.dumps(document))


def read_tag(directory: Path, tag: str) -> str:
    """The digest a layout's index.json records for ``tag``."""
    for entry in json.loads((directory / "index.json").read_text())["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return entry["digest"]
    raise KeyError(tag)
