"""Abandoned blob upload sessions (``blob_uploads``, owned by the registry, 0002) for PURGE_UPLOAD."""

from __future__ import annotations

from typing import Any


def delete_stale(cur: Any, *, older_than_hours: int, limit: int) -> list[str]:
    """Delete up to ``limit`` sessions untouched for ``older_than_hours`` and not being written now.

    Locked rows (a registry request is appending right now) are skipped. Returns their ids.
    """
    cur.execute(
        """
        DELETE FROM blob_uploads WHERE upload_id IN (
            SELECT upload_id FROM blob_uploads
            WHERE update_time < now() - make_interval(hours => %(hours)s)
              AND (lease_expires IS NULL OR lease_expires < now())
            ORDER BY update_time LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        )
        RETURNING upload_id::text
        """,
        {"hours": older_than_hours, "limit": limit},
    )
    return [row[0] for row in cur.fetchall()]


def count_stale(cur: Any, *, older_than_hours: int) -> int:
    cur.execute(
        """
        SELECT count(*) FROM blob_uploads
        WHERE update_time < now() - make_interval(hours => %(hours)s) AND (lease_expires IS NULL OR lease_expires < now())
        """,
        {"hours": older_than_hours},
    )
    return cur.fetchone()[0]


def existing(cur: Any, upload_ids: list[str]) -> set[str]:
    """Which of ``upload_ids`` still have a session row."""
    cur.execute("SELECT upload_id::text FROM blob_uploads WHERE upload_id::text = ANY(%(ids)s)", {"ids": list(upload_ids)})
    return {row[0] for row in cur.fetchall()}
