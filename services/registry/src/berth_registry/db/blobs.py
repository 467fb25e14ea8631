"""Blobs (content-addressed objects: layers, configs, manifests) and their links to projects.

A blob is visible to a project only through a ``project_blobs`` row. ``status``/``version``
follow Harbor's online-GC protocol: ``none`` is live, ``delete`` is marked by GC and rescued by
any push or HEAD that needs it, ``deleting``/``deletefailed`` are being removed and count as
absent (a push stores the bytes again and resets the row to ``none`` with a new version).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import psycopg2.extensions

from berth_registry.db import execute_prepared

Cursor = psycopg2.extensions.cursor

LIVE_STATUSES = ("none", "delete")
_COLUMNS = "b.blob_id, b.digest, b.size, b.content_type, b.status, b.version"


@dataclasses.dataclass(frozen=True)
class Blob:
    blob_id: int
    digest: str
    size: int
    content_type: str
    status: str
    version: int

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


def get(cur: Cursor, digest: str) -> Blob | None:
    cur.execute(f"SELECT {_COLUMNS} FROM blobs b WHERE b.digest = %(digest)s", {"digest": digest})
    row = cur.fetchone()
    return Blob(*row) if row else None


def find_in_project(cur: Cursor, project_id: int, digests: Iterable[str]) -> dict[str, Blob]:
    """The live blobs among ``digests`` that are linked to the project, by digest."""
    cur.execute(
        f"""
        SELECT {_COLUMNS} FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.blob_id AND pb.project_id = %(project_id)s
        WHERE b.digest = ANY(%(digests)s) AND b.status IN %(live)s
        """,
        {"project_id": project_id, "digests": list(digests), "live": LIVE_STATUSES},
    )
    return {row[1]: Blob(*row) for row in cur.fetchall()}


_FIND_IN_PROJECT_NAMED = f"""
    SELECT {_COLUMNS} FROM blobs b
    JOIN project_blobs pb ON pb.blob_id = b.blob_id
    JOIN projects p ON p.project_id = pb.project_id
    WHERE b.digest = $1 AND p.name = $2 AND NOT p.deleted AND b.status IN ('none', 'delete')
"""


def find_in_project_named(cur: Cursor, project_name: str, digest: str) -> Blob | None:
    """The live blob ``digest`` if linked to the project called ``project_name`` (pull path)."""
    execute_prepared(cur, "berth_find_blob_in_project", _FIND_IN_PROJECT_NAMED, (digest, project_name))
    row = cur.fetchone()
    return Blob(*row) if row else None


def upsert(cur: Cursor, digest: str, size: int, content_type: str = "") -> Blob:
    """Record that the bytes of ``digest`` are in storage; revives a row GC had marked."""
    cur.execute(
        f"""
        INSERT INTO blobs AS b (digest, size, content_type) VALUES (%(digest)s, %(size)s, %(content_type)s)
        ON CONFLICT (digest) DO UPDATE SET
            status = 'none',
            version = b.version + CASE WHEN b.status = 'none' THEN 0 ELSE 1 END,
            content_type = CASE WHEN b.content_type = '' THEN EXCLUDED.content_type ELSE b.content_type END,
            update_time = now()
        RETURNING {_COLUMNS}
        """,
        {"digest": digest, "size": size, "content_type": content_type},
    )
    return Blob(*cur.fetchone())


def rescue(cur: Cursor, blob: Blob) -> None:
    """Take a blob back from GC's ``delete`` mark (no-op for a live ``none`` blob)."""
    if blob.status == "delete":
        cur.execute(
            """
            UPDATE blobs SET status = 'none', version = version + 1, update_time = now()
            WHERE blob_id = %(blob_id)s AND status = 'delete'
            """,
            {"blob_id": blob.blob_id},
        )


def link(cur: Cursor, project_id: int, blob_id: int) -> bool:
    """Link the blob to the project; True if the link is new (the project must be charged)."""
    cur.execute(
        """
        INSERT INTO project_blobs (project_id, blob_id) VALUES (%(project_id)s, %(blob_id)s)
        ON CONFLICT DO NOTHING
        """,
        {"project_id": project_id, "blob_id": blob_id},
    )
    return cur.rowcount == 1


def unlink(cur: Cursor, project_id: int, blob_id: int) -> bool:
    """Remove the project's link to the blob; True if there was one."""
    cur.execute(
        "DELETE FROM project_blobs WHERE project_id = %(project_id)s AND blob_id = %(blob_id)s",
        {"project_id": project_id, "blob_id": blob_id},
    )
    return cur.rowcount == 1
