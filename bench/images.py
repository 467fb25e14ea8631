"""Images and blobs made on this machine: OCI layouts with random, incompressible layers.

Small images come from the registry tests' own helper (tests/support/images.py, reused through
:mod:`bench.support`). That helper builds each layer in memory and gzips it at level 9, which
for a 1 GiB layer would take minutes and gigabytes of RAM, so the big image and the raw blob are
streamed to disk here instead, in the same format.

Each streamed layer is a gzip stream (deflate "stored" blocks, so no compression work and no size
change) of a tar holding one file of random bytes. Being real gzip matters: skopeo recompresses
layers it sees as uncompressed when pushing, which would measure the client's gzip instead of
the registry. Being random matters: nothing downstream can deduplicate or compress it.

Random bytes come from AES-CTR over zeros with a fresh key: several GiB/s, so generating a
1 GiB layer costs about as much as hashing it.

Layout written by :func:`write_image` (tests/support/images.py writes the same shape)::

    <dir>/oci-layout
    <dir>/index.json                       one manifest, ref name "latest"
    <dir>/blobs/sha256/<config digest>
    <dir>/blobs/sha256/<manifest digest>
    <dir>/blobs/sha256/<layer digest>...
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.support import images as support_images

CHUNK = 1 << 20
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclasses.dataclass(frozen=True)
class Blob:
    """A file on disk with its digest and size."""

    path: Path
    digest: str
    size: int


@dataclasses.dataclass(frozen=True)
class Image:
    """An OCI layout on disk holding one image tagged ``latest``."""

    directory: Path
    manifest_digest: str
    layers: tuple[Blob, ...]

    @property
    def reference(self) -> str:
        """The skopeo source name of this image."""
        return f"oci:{self.directory}:latest"

    @property
    def size(self) -> int:
        """Bytes of all layers (what a push or pull moves, config and manifest aside)."""
        return sum(layer.size for layer in self.layers)


def random_chunks(size: int) -> Iterator[bytes]:
    """``size`` random bytes in chunks of at most 1 MiB."""
    encryptor = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    zeros = bytes(CHUNK)
    remaining = size
    while remaining > 0:
        n = min(CHUNK, remaining)
        yield encryptor.update(zeros[:n])
        remaining -= n


def write_random_blob(path: Path, size: int) -> Blob:
    """A file of ``size`` random bytes (a raw blob for monolithic upload)."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in random_chunks(size):
            digest.update(chunk)
            out.write(chunk)
    return Blob(path, "sha256:" + digest.hexdigest(), size)


def _tar_stream(name: str, size: int) -> Iterator[bytes]:
    """A tar archive of one regular file ``name`` with ``size`` random bytes."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    yield from random_chunks(size)
    padding = -size % tarfile.BLOCKSIZE
    yield bytes(padding) + bytes(2 * tarfile.BLOCKSIZE)  # end-of-archive marker


def _write_layer(blobs_dir: Path, name: str, size: int) -> tuple[Blob, str]:
    """A gzip (stored blocks) tar layer; returns the blob and the diff id of its tar."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0, gzip wrapper
    compressed = hashlib.sha256()
    uncompressed = hashlib.sha256()
    tmp = blobs_dir / f".{name}.tmp"
    written = 0
    with open(tmp, "wb") as out:
        for chunk in _tar_stream(name, size):
            uncompressed.update(chunk)
            data = compressor.compress(chunk)
            compressed.update(data)
            out.write(data)
            written += len(data)
        data = compressor.flush()
        compressed.update(data)
        out.write(data)
        written += len(data)
    hexdigest = compressed.hexdigest()
    path = blobs_dir / hexdigest
    os.replace(tmp, path)
    return Blob(path, "sha256:" + hexdigest, written), "sha256:" + uncompressed.hexdigest()


def _write_json_blob(blobs_dir: Path, document: dict) -> Blob:
    data = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    hexdigest = hashlib.sha256(data).hexdigest()
    path = blobs_dir / hexdigest
    path.write_bytes(data)
    return Blob(path, "sha256:" + hexdigest, len(data))


def write_image(directory: Path, layer_sizes: list[int]) -> Image:
    """Write an OCI layout at ``directory`` with one layer per entry of ``layer_sizes`` (bytes)."""
    blobs_dir = directory / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    layers, diff_ids = [], []
    for index, size in enumerate(layer_sizes):
        blob, diff_id = _write_layer(blobs_dir, f"layer{index}.bin", size)
        layers.append(blob)
        diff_ids.append(diff_id)
    config = _write_json_blob(
        blobs_dir,
        {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}},
    )
    manifest = _write_json_blob(
        blobs_dir,
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": LAYER_TYPE, "digest": b.digest, "size": b.size} for b in layers],
        },
    )
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_TYPE,
                "digest": manifest.digest,
                "size": manifest.size,
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return Image(directory, manifest.digest, tuple(layers))


def layout_image(directory: Path, layers: int, layer_bytes: int) -> Image:
    """An image of ``layers`` random layers of ``layer_bytes`` each, written by the tests' helper."""
    written = support_images.write_layout(directory, tag="latest", layers=layers, layer_size=layer_bytes)
    blobs = directory / "blobs" / "sha256"
    manifest = json.loads((blobs / written.digest.split(":", 1)[1]).read_bytes())
    found = tuple(Blob(blobs / layer["digest"].split(":", 1)[1], layer["digest"], layer["size"]) for layer in manifest["layers"])
    return Image(directory, written.digest, found)
