"""Tags: names pointing at an artifact of the same repository."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import psycopg2.extensions
import psycopg2.extras

Cursor = psycopg2.extensions.cursor


@dataclasses.dataclass(frozen=True)
class Tag:
    tag_id: int
    repository_id: int
    artifact_id: int
    name: str
    digest: str  # of the artifact the tag points at


def get(cur: Cursor, repository_id: int, name: str) -> Tag | None:
    cur.execute(
        """
        SELECT t.tag_id, t.repository_id, t.artifact_id, t.name, a.digest
        FROM tags t JOIN artifacts a ON a.artifact_id = t.artifact_id
        WHERE t.repository_id = %(repository_id)s AND t.name = %(name)s
        """,
        {"repository_id": repository_id, "name": name},
    )
    row = cur.fetchone()
    return Tag(*row) if row else None


def put(cur: Cursor, repository_id: int, artifact_id: int, name: str) -> None:
    """Point the tag at the artifact (creating it, or moving it and refreshing push_time)."""
    cur.execute(
        """
        INSERT INTO tags (repository_id, artifact_id, name) VALUES (%(repository_id)s, %(artifact_id)s, %(name)s)
        ON CONFLICT (repository_id, name) DO UPDATE SET artifact_id = EXCLUDED.artifact_id, push_time = now()
        """,
        {"repository_id": repository_id, "artifact_id": artifact_id, "name": name},
    )


def delete(cur: Cursor, tag_id: int) -> None:
    cur.execute("DELETE FROM tags WHERE tag_id = %(id)s", {"id": tag_id})


def names_of_artifact(cur: Cursor, artifact_id: int) -> list[str]:
    cur.execute("SELECT name FROM tags WHERE artifact_id = %(id)s ORDER BY name", {"id": artifact_id})
    return [row[0] for row in cur.fetchall()]


def list_names(cur: Cursor, repository_id: int, last: str, limit: int) -> list[str]:
    """Tag names after ``last`` in byte order, at most ``limit``."""
    cur.execute(
        """
        SELECT name FROM tags
        WHERE repository_id = %(repository_id)s AND name COLLATE "C" > %(last)s
        ORDER BY name COLLATE "C"
        LIMIT %(limit)s
        """,
        {"repository_id": repository_id, "last": last, "limit": limit},
    )
    return [row[0] for row in cur.fetchall()]


def record_pulls(cur: Cursor, times: Mapping[int, dt.datetime]) -> None:
    """Set ``pull_time`` of each tag to the given time unless a later one is recorded."""
    if not times:
        return
    psycopg2.extras.execute_values(
        cur,
        """
        UPDATE tags AS t SET pull_time = GREATEST(COALESCE(t.pull_time, v.t), v.t)
        FROM (VALUES %s) AS v (tag_id, t)
        WHERE t.tag_id = v.tag_id
        """,
        sorted(times.items()),
        template="(%s, %s::timestamptz)",
    )
