"""Where blobs and upload sessions live in a storage driver: the key layout, in one place.

The tree (``STORAGE_LAYOUT_VERSION`` = ``v2``, the path version distribution uses, so blob data
sits exactly where distribution puts it)::

    /docker/registry/v2/
    ├── blobs/
    │   └── <alg>/                      sha256 | sha512
    │       └── <first two hex>/        fan-out so no directory grows huge
    │           └── <hex>/
    │               └── data            the blob (or manifest) bytes, content-addressed
    └── uploads/
        └── <uuid>/                     one upload session (canonical lowercase UUID)
            ├── data                    the bytes received so far (pending until the upload ends)
            ├── startedat               RFC 3339 time the session began (for purging stale ones)
            └── hashstates/
                └── <alg>/
                    └── <offset>        hash state after <offset> bytes, in a format we own

Repositories, tags and manifests-by-repository are rows in PostgreSQL (ARCHITECTURE decision 1),
so unlike distribution there is no ``repositories/`` tree. Every function validates its input
and raises ValueError for anything else, so a client-supplied digest or id can never produce a
path outside these directories. Changing this tree means a new version and a migration.
"""

from __future__ import annotations

import re
import uuid as uuid_module

STORAGE_LAYOUT_VERSION = "v2"
ROOT = f"/docker/registry/{STORAGE_LAYOUT_VERSION}"
BLOBS = f"{ROOT}/blobs"
UPLOADS = f"{ROOT}/uploads"

# Hex length of each supported digest algorithm (OCI image spec: lowercase hex only).
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")


def parse_digest(digest: str) -> tuple[str, str]:
    """Split ``sha256:<64 hex>`` or ``sha512:<128 hex>`` into (algorithm, hex); raises ValueError."""
    if not isinstance(digest, str):
        raise ValueError(f"digest must be a string, got {type(digest).__name__}")
    algorithm, sep, hex_part = digest.partition(":")
    length = DIGEST_HEX_LENGTHS.get(algorithm)
    if not sep or length is None:
        raise ValueError(f"unsupported digest algorithm in {digest!r} (supported: {', '.join(DIGEST_HEX_LENGTHS)})")
    if len(hex_part) != length or not _HEX.fullmatch(hex_part):
        raise ValueError(f"{algorithm} digest needs {length} lowercase hex characters: {digest!r}")
    return algorithm, hex_part


def _algorithm(algorithm: str) -> str:
    if algorithm not in DIGEST_HEX_LENGTHS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r} (supported: {', '.join(DIGEST_HEX_LENGTHS)})")
    return algorithm


def _upload_id(upload_uuid: str) -> str:
    """The canonical form of an upload id; anything else (upper case, braces, urn:) is refused."""
    try:
        canonical = str(uuid_module.UUID(upload_uuid))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not an upload id: {upload_uuid!r}") from None
    if canonical != upload_uuid:
        raise ValueError(f"upload id must be a lowercase canonical UUID: {upload_uuid!r}")
    return canonical


def blob_dir(digest: str) -> str:
    """``/docker/registry/v2/blobs/<alg>/<xx>/<hex>``: everything stored for one blob."""
    algorithm, hex_part = parse_digest(digest)
    return f"{BLOBS}/{algorithm}/{hex_part[:2]}/{hex_part}"


def blob_data(digest: str) -> str:
    """``.../blobs/<alg>/<xx>/<hex>/data``: the blob's bytes."""
    return f"{blob_dir(digest)}/data"


def upload_dir(upload_uuid: str) -> str:
    """``/docker/registry/v2/uploads/<uuid>``: the whole session; delete it to end the session."""
    return f"{UPLOADS}/{_upload_id(upload_uuid)}"


def upload_data(upload_uuid: str) -> str:
    """``.../uploads/<uuid>/data``: the bytes received so far."""
    return f"{upload_dir(upload_uuid)}/data"


def upload_started_at(upload_uuid: str) -> str:
    """``.../uploads/<uuid>/startedat``: when the session began."""
    return f"{upload_dir(upload_uuid)}/startedat"


def upload_hash_states(upload_uuid: str, algorithm: str) -> str:
    """``.../uploads/<uuid>/hashstates/<alg>``: the saved hash states of one algorithm."""
    return f"{upload_dir(upload_uuid)}/hashstates/{_algorithm(algorithm)}"


def upload_hash_state(upload_uuid: str, algorithm: str, offset: int) -> str:
    """``.../uploads/<uuid>/hashstates/<alg>/<offset>``: the hash state after ``offset`` bytes."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
    return f"{upload_hash_states(upload_uuid, algorithm)}/{offset}"
