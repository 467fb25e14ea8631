"""The UI's static files: where they live, their content types and the version in their URLs.

Assets are served under ``/ui/static/<version>/...`` where ``<version>`` is a hash of every
file's path and bytes. Because ES modules import each other by relative path, the version in
the directory part of the URL reaches every module, stylesheet and dictionary without a build
step, and each release can be cached forever by the browser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Explicit types rather than the platform's mimetypes table: ES modules are refused by browsers
# unless served with a JavaScript type, and that table differs between systems.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


def content_type(path: Path) -> str | None:
    """The Content-Type to serve ``path`` with, or None if it is not a UI asset type."""
    return CONTENT_TYPES.get(path.suffix.lower())


def asset_version(root: Path = STATIC_DIR) -> str:
    """A short hash over every asset's relative path and bytes: changes whenever any file does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def resolve_asset(relative: str, root: Path = STATIC_DIR) -> Path | None:
    """The file for a request path below the static root, or None (missing, a directory, an
    unknown type, or a path escaping the root such as ``../settings.py``)."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file() or content_type(candidate) is None:
        return None
    return candidate
