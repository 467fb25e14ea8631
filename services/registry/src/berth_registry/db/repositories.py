"""Repositories (Harbor's ``repository`` rows): full names ``project/a/b`` and pull counters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

import psycopg2.extensions
import psycopg2.extras

Cursor = psycopg2.extensions.cursor

_COLUMNS = "repository_id, project_id, name, creation_time"


@dataclasses.dataclass(frozen=True)
class Repository:
    repository_id: int
    project_id: int
    name: str
    creation_time: dt.datetime


def get(cur: Cursor, name: str) -> Repository | None:
    cur.execute(f"SELECT {_COLUMNS} FROM repositories WHERE name = %(name)s", {"name": name})
    row = cur.fetchone()
    return Repository(*row) if row else None


def get_many(cur: Cursor, repository_ids: Iterable[int]) -> dict[int, Repository]:
    cur.execute(f"SELECT {_COLUMNS} FROM repositories WHERE repository_id = ANY(%(ids)s)", {"ids": list(repository_ids)})
    return {row[0]: Repository(*row) for row in cur.fetchall()}


def ensure(cur: Cursor, project_id: int, name: str) -> Repository:
    """The repository called ``name``, created in ``project_id`` if it does not exist yet."""
    cur.execute(
        f"""
        INSERT INTO repositories (project_id, name) VALUES (%(project_id)s, %(name)s)
        ON CONFLICT (name) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        {"project_id": project_id, "name": name},
    )
    row = cur.fetchone()
    if row is None:  # it existed already (or a concurrent push created it just now)
        existing = get(cur, name)
        assert existing is not None
        return existing
    return Repository(*row)


def touch(cur: Cursor, repository_id: int) -> None:
    cur.execute("UPDATE repositories SET update_time = now() WHERE repository_id = %(id)s", {"id": repository_id})


def list_names(cur: Cursor, last: str, limit: int) -> list[str]:
    """Repository names after ``last`` in byte order (the catalog's order), at most ``limit``."""
    cur.execute(
        """
        SELECT name FROM repositories
        WHERE name COLLATE "C" > %(last)s
        ORDER BY name COLLATE "C"
        LIMIT %(limit)s
        """,
        {"last": last, "limit": limit},
    )
    return [row[0] for row in cur.fetchall()]


def add_pull_counts(cur: Cursor, counts: Mapping[int, int]) -> None:
    """Add ``counts[repository_id]`` pulls to each repository."""
    if not counts:
        return
    psycopg2.extras.execute_values(
        cur,
        """
        UPDATE repositories AS r SET pull_count = r.pull_count + v.n
        FROM (VALUES %s) AS v (repository_id, n)
        WHERE r.repository_id = v.repository_id
        """,
        sorted(counts.items()),
    )
