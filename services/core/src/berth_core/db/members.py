"""SQL of project membership (table ``project_members``): users ('u') and user groups ('g')."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from psycopg2 import sql

from berth_core.api.query import ListParams
from berth_core.db.listing import escape_like


@dataclasses.dataclass(frozen=True)
class Member:
    id: int
    project_id: int
    entity_id: int
    entity_type: str  # 'u' user, 'g' group
    entity_name: str
    role_id: int
    creation_time: dt.datetime
    update_time: dt.datetime


# Entity names come from users or user_groups depending on entity_type.
_SELECT = """
    SELECT m.id, m.project_id, m.entity_id, m.entity_type,
           coalesce(CASE WHEN m.entity_type = 'u' THEN u.username ELSE g.group_name END, ''),
           m.role, m.creation_time, m.update_time
    FROM project_members m
    LEFT JOIN users u ON m.entity_type = 'u' AND u.user_id = m.entity_id
    LEFT JOIN user_groups g ON m.entity_type = 'g' AND g.id = m.entity_id
"""


def roles_by_project(cur, user_id: int, group_ids: Sequence[int]) -> dict[int, frozenset[int]]:
    """Every project in which the user holds a role, directly or through one of its groups."""
    cur.execute(
        """
        SELECT project_id, array_agg(DISTINCT role) FROM project_members
        WHERE (entity_type = 'u' AND entity_id = %(uid)s) OR (entity_type = 'g' AND entity_id = ANY(%(gids)s))
        GROUP BY project_id
        """,
        {"uid": user_id, "gids": list(group_ids)},
    )
    return {row[0]: frozenset(row[1]) for row in cur.fetchall()}


def add_member(cur, project_id: int, entity_id: int, entity_type: str, role: int) -> int | None:
    """Insert a membership; returns its id, or None when the entity is already a member."""
    cur.execute(
        """
        INSERT INTO project_members (project_id, entity_id, entity_type, role)
        VALUES (%(pid)s, %(eid)s, %(etype)s, %(role)s)
        ON CONFLICT (project_id, entity_id, entity_type) DO NOTHING RETURNING id
        """,
        {"pid": project_id, "eid": entity_id, "etype": entity_type, "role": role},
    )
    row = cur.fetchone()
    return row[0] if row else None


def get_member(cur, project_id: int, member_id: int) -> Member | None:
    cur.execute(_SELECT + " WHERE m.project_id = %(pid)s AND m.id = %(mid)s", {"pid": project_id, "mid": member_id})
    row = cur.fetchone()
    return Member(*row) if row else None


def update_role(cur, project_id: int, member_id: int, role: int) -> bool:
    cur.execute(
        "UPDATE project_members SET role = %(role)s, update_time = now() WHERE project_id = %(pid)s AND id = %(mid)s",
        {"pid": project_id, "mid": member_id, "role": role},
    )
    return cur.rowcount == 1


def delete_member(cur, project_id: int, member_id: int) -> bool:
    cur.execute("DELETE FROM project_members WHERE project_id = %(pid)s AND id = %(mid)s", {"pid": project_id, "mid": member_id})
    return cur.rowcount == 1


def delete_entity_memberships(cur, entity_id: int, entity_type: str) -> None:
    """Remove a deleted user or group from every project."""
    cur.execute(
        "DELETE FROM project_members WHERE entity_id = %(eid)s AND entity_type = %(etype)s",
        {"eid": entity_id, "etype": entity_type},
    )


def list_members(cur, project_id: int, entityname: str | None, params: ListParams) -> tuple[list[Member], int]:
    """A page of a project's members, optionally those whose name contains ``entityname``."""
    values = {"pid": project_id, "pattern": None}
    condition = sql.SQL("")
    if entityname:
        condition = sql.SQL(
            " AND coalesce(CASE WHEN m.entity_type = 'u' THEN u.username ELSE g.group_name END, '') ILIKE %(pattern)s ESCAPE '\\'"
        )
        values["pattern"] = f"%{escape_like(entityname)}%"
    where = sql.SQL(" WHERE m.project_id = %(pid)s") + condition
    cur.execute(
        sql.SQL(
            "SELECT count(*) FROM project_members m LEFT JOIN users u ON m.entity_type = 'u' AND u.user_id = m.entity_id "
            "LEFT JOIN user_groups g ON m.entity_type = 'g' AND g.id = m.entity_id"
        )
        + where,
        values,
    )
    total = cur.fetchone()[0]
    cur.execute(
        sql.SQL(_SELECT) + where + sql.SQL(" ORDER BY m.entity_type DESC, m.id LIMIT %(limit)s OFFSET %(offset)s"),
        {**values, "limit": params.limit, "offset": params.offset},
    )
    return [Member(*row) for row in cur.fetchall()], total


def role_counts(cur, project_id: int) -> dict[int, int]:
    cur.execute("SELECT role, count(*) FROM project_members WHERE project_id = %(pid)s GROUP BY role", {"pid": project_id})
    return dict(cur.fetchall())
