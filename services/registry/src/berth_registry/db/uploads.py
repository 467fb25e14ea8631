"""Blob upload sessions (table ``blob_uploads`` from 0002) and the lease that serialises writers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import psycopg2.extensions
import psycopg2.extras

Cursor = psycopg2.extensions.cursor

psycopg2.extras.register_uuid()

_COLUMNS = "upload_id, project_id, repository_name, size, hash_state, username, creation_time"


@dataclasses.dataclass(frozen=True)
class Upload:
    upload_id: uuid.UUID
    project_id: int
    repository_name: str
    size: int
    hash_state: bytes | None
    username: str
    creation_time: dt.datetime


def _upload(row: tuple | None) -> Upload | None:
    if row is None:
        return None
    values = list(row)
    values[4] = bytes(values[4]) if values[4] is not None else None  # psycopg2 returns memoryview
    return Upload(*values)


def create(cur: Cursor, upload_id: uuid.UUID, project_id: int, repository_name: str, username: str) -> Upload:
    cur.execute(
        f"""
        INSERT INTO blob_uploads (upload_id, project_id, repository_name, username)
        VALUES (%(upload_id)s, %(project_id)s, %(repository_name)s, %(username)s)
        RETURNING {_COLUMNS}
        """,
        {"upload_id": upload_id, "project_id": project_id, "repository_name": repository_name, "username": username},
    )
    return _upload(cur.fetchone())


def get(cur: Cursor, upload_id: uuid.UUID, repository_name: str) -> Upload | None:
    """The session, if it exists and belongs to ``repository_name``."""
    cur.execute(
        f"SELECT {_COLUMNS} FROM blob_uploads WHERE upload_id = %(upload_id)s AND repository_name = %(repository_name)s",
        {"upload_id": upload_id, "repository_name": repository_name},
    )
    return _upload(cur.fetchone())


def claim(cur: Cursor, upload_id: uuid.UUID, repository_name: str, owner: uuid.UUID, lease_seconds: float) -> Upload | None:
    """Take the writer lease of a session that is free (or whose lease expired); None if not."""
    cur.execute(
        f"""
        UPDATE blob_uploads SET lease_owner = %(owner)s, lease_expires = now() + %(lease)s * interval '1 second'
        WHERE upload_id = %(upload_id)s AND repository_name = %(repository_name)s
          AND (lease_owner IS NULL OR lease_expires < now())
        RETURNING {_COLUMNS}
        """,
        {"upload_id": upload_id, "repository_name": repository_name, "owner": owner, "lease": lease_seconds},
    )
    return _upload(cur.fetchone())


def renew(cur: Cursor, upload_id: uuid.UUID, owner: uuid.UUID, lease_seconds: float) -> bool:
    """Extend our lease; False if another writer took it meanwhile."""
    cur.execute(
        """
        UPDATE blob_uploads SET lease_expires = now() + %(lease)s * interval '1 second'
        WHERE upload_id = %(upload_id)s AND lease_owner = %(owner)s
        """,
        {"upload_id": upload_id, "owner": owner, "lease": lease_seconds},
    )
    return cur.rowcount == 1


def release(cur: Cursor, upload_id: uuid.UUID, owner: uuid.UUID, size: int, hash_state: bytes | None) -> bool:
    """Record progress and give the lease back; False if the lease was no longer ours."""
    cur.execute(
        """
        UPDATE blob_uploads
        SET size = %(size)s, hash_state = %(hash_state)s, lease_owner = NULL, lease_expires = NULL, update_time = now()
        WHERE upload_id = %(upload_id)s AND lease_owner = %(owner)s
        """,
        {
            "upload_id": upload_id,
            "owner": owner,
            "size": size,
            "hash_state": psycopg2.Binary(hash_state) if hash_state is not None else None,
        },
    )
    return cur.rowcount == 1


def delete(cur: Cursor, upload_id: uuid.UUID) -> bool:
    cur.execute("DELETE FROM blob_uploads WHERE upload_id = %(upload_id)s", {"upload_id": upload_id})
    return cur.rowcount == 1
