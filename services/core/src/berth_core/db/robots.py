"""SQL of robot accounts (``robots``) and their grants (``robot_permissions``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from psycopg2 import sql

from berth_core.api.query import ListParams, SortKey
from berth_core.db import listing


@dataclasses.dataclass(frozen=True)
class Grant:
    """One granted action. ``project_id`` is None for system grants and for namespace '*'."""

    kind: str  # 'system' | 'project'
    namespace: str  # '/' | project name | '*'
    project_id: int | None
    resource: str
    action: str


@dataclasses.dataclass(frozen=True)
class Robot:
    id: int
    name: str  # without the prefix: '<project>+<name>' or '<name>'
    description: str
    level: str  # 'system' | 'project'
    project_id: int | None
    secret_hash: str = dataclasses.field(repr=False)
    duration: int
    expires_at: int  # unix seconds, -1 never
    disabled: bool
    creator_type: str
    creator_ref: int
    creation_time: dt.datetime
    update_time: dt.datetime
    grants: tuple[Grant, ...] = ()


_COLUMNS = (
    "r.id, r.name, r.description, r.level, r.project_id, r.secret_hash, r.duration, r.expires_at, r.disabled, "
    "r.creator_type, r.creator_ref, r.creation_time, r.update_time"
)

LIST_COLUMNS: Mapping[str, sql.Composable] = {
    "id": sql.SQL("r.id"),
    "name": sql.SQL("r.name"),
    "level": sql.SQL("r.level"),
    "project_id": sql.SQL("coalesce(r.project_id, 0)"),
    "disable": sql.SQL("r.disabled"),
    "creation_time": sql.SQL("r.creation_time"),
    "update_time": sql.SQL("r.update_time"),
    "expires_at": sql.SQL("r.expires_at"),
    # Harbor's UI spells these two keys this way (q=Level=project,ProjectID=1).
    "Level": sql.SQL("r.level"),
    "ProjectID": sql.SQL("coalesce(r.project_id, 0)"),
}


def _grants(cur, robot_ids: Iterable[int]) -> dict[int, tuple[Grant, ...]]:
    # Project grants show the project's current name; '*' and '/' are stored as given.
    cur.execute(
        """
        SELECT rp.robot_id, rp.kind, coalesce(p.name, rp.namespace), rp.project_id, rp.resource, rp.action
        FROM robot_permissions rp LEFT JOIN projects p ON p.project_id = rp.project_id
        WHERE rp.robot_id = ANY(%(ids)s) ORDER BY rp.id
        """,
        {"ids": list(robot_ids)},
    )
    out: dict[int, list[Grant]] = {}
    for robot_id, *fields in cur.fetchall():
        out.setdefault(robot_id, []).append(Grant(*fields))
    return {key: tuple(value) for key, value in out.items()}


def _with_grants(cur, rows) -> list[Robot]:
    robots = [Robot(*row) for row in rows]
    grants = _grants(cur, [r.id for r in robots]) if robots else {}
    return [dataclasses.replace(r, grants=grants.get(r.id, ())) for r in robots]


def get_robot(cur, robot_id: int) -> Robot | None:
    cur.execute(f"SELECT {_COLUMNS} FROM robots r WHERE r.id = %(id)s", {"id": robot_id})
    found = _with_grants(cur, cur.fetchall())
    return found[0] if found else None


def get_robot_by_name(cur, name: str) -> Robot | None:
    cur.execute(f"SELECT {_COLUMNS} FROM robots r WHERE r.name = %(name)s", {"name": name})
    found = _with_grants(cur, cur.fetchall())
    return found[0] if found else None


def insert_robot(
    cur,
    *,
    name: str,
    description: str,
    level: str,
    project_id: int | None,
    secret_hash: str,
    duration: int,
    expires_at: int,
    disabled: bool,
    creator_type: str,
    creator_ref: int,
) -> int | None:
    """Insert a robot; returns its id, or None when the name is taken."""
    cur.execute(
        """
        INSERT INTO robots (name, description, level, project_id, secret_hash, duration, expires_at, disabled,
                            creator_type, creator_ref)
        VALUES (%(name)s, %(description)s, %(level)s, %(project_id)s, %(secret_hash)s, %(duration)s, %(expires_at)s,
                %(disabled)s, %(creator_type)s, %(creator_ref)s)
        ON CONFLICT (name) DO NOTHING RETURNING id
        """,
        {
            "name": name,
            "description": description,
            "level": level,
            "project_id": project_id,
            "secret_hash": secret_hash,
            "duration": duration,
            "expires_at": expires_at,
            "disabled": disabled,
            "creator_type": creator_type,
            "creator_ref": creator_ref,
        },
    )
    row = cur.fetchone()
    return row[0] if row else None


def replace_grants(cur, robot_id: int, grants: Iterable[Grant]) -> None:
    cur.execute("DELETE FROM robot_permissions WHERE robot_id = %(id)s", {"id": robot_id})
    for grant in grants:
        cur.execute(
            """
            INSERT INTO robot_permissions (robot_id, kind, namespace, project_id, resource, action)
            VALUES (%(robot_id)s, %(kind)s, %(namespace)s, %(project_id)s, %(resource)s, %(action)s)
            ON CONFLICT DO NOTHING
            """,
            {"robot_id": robot_id, **dataclasses.asdict(grant)},
        )


def update_robot(cur, robot_id: int, *, description: str, disabled: bool, duration: int, expires_at: int) -> None:
    cur.execute(
        """
        UPDATE robots SET description = %(description)s, disabled = %(disabled)s, duration = %(duration)s,
               expires_at = %(expires_at)s, update_time = now()
        WHERE id = %(id)s
        """,
        {
            "id": robot_id,
            "description": description,
            "disabled": disabled,
            "duration": duration,
            "expires_at": expires_at,
        },
    )


def set_secret_hash(cur, robot_id: int, secret_hash: str) -> None:
    cur.execute(
        "UPDATE robots SET secret_hash = %(hash)s, update_time = now() WHERE id = %(id)s",
        {"id": robot_id, "hash": secret_hash},
    )


def delete_robot(cur, robot_id: int) -> bool:
    cur.execute("DELETE FROM robots WHERE id = %(id)s", {"id": robot_id})
    return cur.rowcount == 1


def list_robots(cur, params: ListParams, project_ids: Iterable[int] | None = None) -> tuple[list[Robot], int]:
    """A page of robots. ``project_ids`` limits the list to those projects' robots."""
    condition, values = listing.where(params.conditions, LIST_COLUMNS)
    if project_ids is not None:
        condition = sql.SQL("{} AND r.project_id = ANY(%(only)s)").format(condition)
        values["only"] = list(project_ids)
    cur.execute(sql.SQL("SELECT count(*) FROM robots r WHERE {}").format(condition), values)
    total = cur.fetchone()[0]
    page_sql, page_values = listing.limit_offset(params)
    order = listing.order_by(params.sort, LIST_COLUMNS, (SortKey("id"),), sql.SQL("r.id"))
    cur.execute(
        sql.SQL("SELECT " + _COLUMNS + " FROM robots r WHERE {} ORDER BY {} ").format(condition, order) + page_sql,
        {**values, **page_values},
    )
    return _with_grants(cur, cur.fetchall()), total
