"""SQL of projects: the ``projects`` row, its ``project_metadata`` key/values and its quota.

Harbor keeps project settings as string key/values (``public`` = "true"/"false", ``auto_scan``,
...); :class:`Project` carries them as a dict and exposes ``public`` as a bool.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from psycopg2 import sql

from berth_core.api.query import ListParams, SortKey
from berth_core.db import listing


@dataclasses.dataclass(frozen=True)
class Project:
    project_id: int
    name: str
    owner_id: int
    owner_name: str
    creation_time: dt.datetime
    update_time: dt.datetime
    metadata: dict[str, str]

    @property
    def public(self) -> bool:
        return self.metadata.get("public") == "true"


@dataclasses.dataclass(frozen=True)
class Quota:
    id: int  # Harbor's quota id; Berth has one quota per project, so it is the project id
    project_id: int
    project_name: str
    owner_name: str
    hard_storage: int
    used_storage: int
    creation_time: dt.datetime
    update_time: dt.datetime


_SELECT = """
    SELECT p.project_id, p.name, p.owner_id, coalesce(u.username, ''), p.creation_time, p.update_time,
           coalesce((SELECT jsonb_object_agg(m.name, m.value) FROM project_metadata m
                     WHERE m.project_id = p.project_id), '{}'::jsonb)
    FROM projects p LEFT JOIN users u ON u.user_id = p.owner_id
"""

# A project is public when its metadata says so (the registry reads the same row).
PUBLIC_SQL = sql.SQL(
    "EXISTS (SELECT 1 FROM project_metadata pm WHERE pm.project_id = p.project_id AND pm.name = 'public' AND pm.value = 'true')"
)

LIST_COLUMNS: Mapping[str, sql.Composable] = {
    "name": sql.SQL("p.name"),
    "project_id": sql.SQL("p.project_id"),
    "owner": sql.SQL("u.username"),
    "public": PUBLIC_SQL,
    "creation_time": sql.SQL("p.creation_time"),
    "update_time": sql.SQL("p.update_time"),
}
DEFAULT_SORT = (SortKey("name"),)


def _row(row) -> Project:
    return Project(row[0], row[1], row[2], row[3], row[4], row[5], dict(row[6]))


def get_project(cur, project_id: int) -> Project | None:
    cur.execute(_SELECT + " WHERE p.project_id = %(id)s AND NOT p.deleted", {"id": project_id})
    row = cur.fetchone()
    return _row(row) if row else None


def get_project_by_name(cur, name: str) -> Project | None:
    cur.execute(_SELECT + " WHERE p.name = %(name)s AND NOT p.deleted", {"name": name})
    row = cur.fetchone()
    return _row(row) if row else None


def get_project_by_name_or_id(cur, ref: str | int, is_name: bool = False) -> Project | None:
    """Resolve Harbor's ``{project_name_or_id}``.

    Harbor's rule (``X-Is-Resource-Name``): unless the caller says it is a name, a reference
    that parses as an integer is an id; anything else is a name.
    """
    if isinstance(ref, int):
        return get_project(cur, ref)
    if not is_name and ref.isdigit() and len(ref) <= 10:
        project_id = int(ref)
        return get_project(cur, project_id) if project_id <= 2**31 - 1 else None
    return get_project_by_name(cur, ref)


def lock_project(cur, project_id: int) -> bool:
    """Lock the project row for the rest of the transaction; False if it does not exist."""
    cur.execute("SELECT 1 FROM projects WHERE project_id = %(id)s FOR UPDATE", {"id": project_id})
    return cur.fetchone() is not None


def insert_project(cur, name: str, owner_id: int) -> int | None:
    """Insert a project; returns its id, or None when the name is taken."""
    cur.execute(
        "INSERT INTO projects (name, owner_id) VALUES (%(name)s, %(owner)s) ON CONFLICT (name) DO NOTHING RETURNING project_id",
        {"name": name, "owner": owner_id},
    )
    row = cur.fetchone()
    return row[0] if row else None


def set_metadata(cur, project_id: int, values: Mapping[str, str]) -> None:
    """Insert or replace metadata items and touch the project's update time."""
    for name, value in values.items():
        cur.execute(
            """
            INSERT INTO project_metadata (project_id, name, value) VALUES (%(id)s, %(name)s, %(value)s)
            ON CONFLICT (project_id, name) DO UPDATE SET value = EXCLUDED.value, update_time = now()
            """,
            {"id": project_id, "name": name, "value": value},
        )
    touch(cur, project_id)


def delete_metadata(cur, project_id: int, names: Collection[str]) -> int:
    """Delete metadata items; returns how many existed."""
    cur.execute(
        "DELETE FROM project_metadata WHERE project_id = %(id)s AND name = ANY(%(names)s)",
        {"id": project_id, "names": list(names)},
    )
    deleted = cur.rowcount
    touch(cur, project_id)
    return deleted


def touch(cur, project_id: int) -> None:
    cur.execute("UPDATE projects SET update_time = now() WHERE project_id = %(id)s", {"id": project_id})


def delete_project(cur, project_id: int) -> None:
    """Delete the project row; metadata, quota, members and project robots go with it (FKs)."""
    cur.execute("DELETE FROM projects WHERE project_id = %(id)s", {"id": project_id})


def repo_count(cur, project_id: int) -> int:
    cur.execute("SELECT count(*) FROM repositories WHERE project_id = %(id)s", {"id": project_id})
    return cur.fetchone()[0]


def repo_counts(cur, project_ids: Sequence[int]) -> dict[int, int]:
    """Repository count per project for a page of projects (one query)."""
    cur.execute(
        "SELECT project_id, count(*) FROM repositories WHERE project_id = ANY(%(ids)s) GROUP BY project_id",
        {"ids": list(project_ids)},
    )
    counts = dict(cur.fetchall())
    return {pid: counts.get(pid, 0) for pid in project_ids}


def list_projects(
    cur,
    params: ListParams,
    visible_to: Collection[int] | None,
) -> tuple[list[Project], int]:
    """A page of projects matching ``params`` and the total count.

    ``visible_to``: None lists every project (system admins); otherwise public projects plus
    the projects whose ids are given (the caller's memberships).
    """
    condition, values = listing.where(params.conditions, LIST_COLUMNS)
    visibility = sql.SQL("TRUE")
    if visible_to is not None:
        visibility = sql.SQL("({} OR p.project_id = ANY(%(visible)s))").format(PUBLIC_SQL)
        values["visible"] = list(visible_to)
    base = sql.SQL("FROM projects p LEFT JOIN users u ON u.user_id = p.owner_id WHERE NOT p.deleted AND {} AND {}").format(
        visibility, condition
    )
    cur.execute(sql.SQL("SELECT count(*) ") + base, values)
    total = cur.fetchone()[0]
    page_sql, page_values = listing.limit_offset(params)
    order = listing.order_by(params.sort, LIST_COLUMNS, DEFAULT_SORT, sql.SQL("p.project_id"))
    cur.execute(
        sql.SQL("SELECT p.project_id ") + base + sql.SQL(" ORDER BY {} ").format(order) + page_sql,
        {**values, **page_values},
    )
    ids = [row[0] for row in cur.fetchall()]
    if not ids:
        return [], total
    cur.execute(_SELECT + " WHERE p.project_id = ANY(%(ids)s)", {"ids": ids})
    by_id = {row[0]: _row(row) for row in cur.fetchall()}
    return [by_id[pid] for pid in ids if pid in by_id], total


def public_project_ids(cur) -> set[int]:
    cur.execute("SELECT project_id FROM project_metadata WHERE name = 'public' AND value = 'true'")
    return {row[0] for row in cur.fetchall()}


def is_public(cur, project_id: int) -> bool:
    cur.execute(
        "SELECT 1 FROM project_metadata WHERE project_id = %(id)s AND name = 'public' AND value = 'true'",
        {"id": project_id},
    )
    return cur.fetchone() is not None


# --- quotas -------------------------------------------------------------------------------------

_QUOTA_FIELDS = (
    "SELECT q.project_id, q.project_id, p.name, coalesce(u.username, ''), q.hard_storage, q.used_storage, q.creation_time, q.update_time "
)
_QUOTA_FROM = "FROM quotas q JOIN projects p ON p.project_id = q.project_id LEFT JOIN users u ON u.user_id = p.owner_id"
_QUOTA_SELECT = _QUOTA_FIELDS + _QUOTA_FROM

QUOTA_COLUMNS: Mapping[str, sql.Composable] = {
    "id": sql.SQL("q.project_id"),
    "reference_id": sql.SQL("q.project_id::text"),
    "hard.storage": sql.SQL("q.hard_storage"),
    "used.storage": sql.SQL("q.used_storage"),
    "creation_time": sql.SQL("q.creation_time"),
    "update_time": sql.SQL("q.update_time"),
}


def insert_quota(cur, project_id: int, hard_storage: int) -> None:
    cur.execute(
        "INSERT INTO quotas (project_id, hard_storage) VALUES (%(id)s, %(hard)s) ON CONFLICT (project_id) DO NOTHING",
        {"id": project_id, "hard": hard_storage},
    )


def get_quota(cur, project_id: int) -> Quota | None:
    cur.execute(_QUOTA_SELECT + " WHERE q.project_id = %(id)s", {"id": project_id})
    row = cur.fetchone()
    return Quota(*row) if row else None


def set_quota_hard(cur, project_id: int, hard_storage: int) -> bool:
    cur.execute(
        "UPDATE quotas SET hard_storage = %(hard)s, update_time = now() WHERE project_id = %(id)s",
        {"id": project_id, "hard": hard_storage},
    )
    return cur.rowcount == 1


def list_quotas(cur, params: ListParams, reference_id: int | None = None) -> tuple[list[Quota], int]:
    condition, values = listing.where(params.conditions, QUOTA_COLUMNS)
    if reference_id is not None:
        condition = sql.SQL("{} AND q.project_id = %(ref)s").format(condition)
        values["ref"] = reference_id
    base = sql.SQL(_QUOTA_FROM + " WHERE {}").format(condition)
    cur.execute(sql.SQL("SELECT count(*) ") + base, values)
    total = cur.fetchone()[0]
    page_sql, page_values = listing.limit_offset(params)
    order = listing.order_by(params.sort, QUOTA_COLUMNS, (SortKey("id"),), sql.SQL("q.project_id"))
    cur.execute(
        sql.SQL(_QUOTA_FIELDS) + base + sql.SQL(" ORDER BY {} ").format(order) + page_sql,
        {**values, **page_values},
    )
    return [Quota(*row) for row in cur.fetchall()], total
