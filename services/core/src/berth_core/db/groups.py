"""SQL of user groups (table ``user_groups``) and who belongs to them (``user_group_members``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from psycopg2 import sql

from berth_core.api.query import ListParams
from berth_core.db.listing import escape_like

LDAP_GROUP = 1
HTTP_GROUP = 2
OIDC_GROUP = 3


@dataclasses.dataclass(frozen=True)
class UserGroup:
    id: int
    group_name: str
    group_type: int
    ldap_group_dn: str
    creation_time: dt.datetime
    update_time: dt.datetime


_COLUMNS = "id, group_name, group_type, ldap_group_dn, creation_time, update_time"


def get_group(cur, group_id: int) -> UserGroup | None:
    cur.execute(f"SELECT {_COLUMNS} FROM user_groups WHERE id = %(id)s", {"id": group_id})
    row = cur.fetchone()
    return UserGroup(*row) if row else None


def get_ldap_group_by_dn(cur, dn: str) -> UserGroup | None:
    cur.execute(
        f"SELECT {_COLUMNS} FROM user_groups WHERE group_type = 1 AND lower(ldap_group_dn) = lower(%(dn)s)",
        {"dn": dn},
    )
    row = cur.fetchone()
    return UserGroup(*row) if row else None


def insert_group(cur, group_name: str, group_type: int, ldap_group_dn: str = "") -> int | None:
    """Insert a group; returns its id, or None when an equal group (same DN / name) exists."""
    cur.execute(
        """
        INSERT INTO user_groups (group_name, group_type, ldap_group_dn) VALUES (%(name)s, %(type)s, %(dn)s)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        {"name": group_name, "type": group_type, "dn": ldap_group_dn},
    )
    row = cur.fetchone()
    return row[0] if row else None


def ensure_ldap_group(cur, group_name: str, dn: str) -> int:
    """The id of the LDAP group with ``dn``, onboarding it first if needed (race-safe)."""
    group_id = insert_group(cur, group_name, LDAP_GROUP, dn)
    if group_id is not None:
        return group_id
    existing = get_ldap_group_by_dn(cur, dn)
    assert existing is not None  # the insert conflicted on exactly this row
    return existing.id


def rename_group(cur, group_id: int, group_name: str) -> bool:
    cur.execute(
        "UPDATE user_groups SET group_name = %(name)s, update_time = now() WHERE id = %(id)s",
        {"id": group_id, "name": group_name},
    )
    return cur.rowcount == 1


def delete_group(cur, group_id: int) -> bool:
    cur.execute("DELETE FROM user_groups WHERE id = %(id)s", {"id": group_id})
    return cur.rowcount == 1


def list_groups(
    cur,
    params: ListParams,
    *,
    group_name: str | None = None,
    ldap_group_dn: str | None = None,
    exact_name: bool = False,
) -> tuple[list[UserGroup], int]:
    """A page of groups, optionally filtered by name (substring, or exact) and LDAP DN."""
    parts = [sql.SQL("TRUE")]
    values: dict = {}
    if group_name:
        if exact_name:
            parts.append(sql.SQL("group_name = %(name)s"))
            values["name"] = group_name
        else:
            parts.append(sql.SQL("group_name ILIKE %(name)s ESCAPE '\\'"))
            values["name"] = f"%{escape_like(group_name)}%"
    if ldap_group_dn:
        parts.append(sql.SQL("lower(ldap_group_dn) = lower(%(dn)s)"))
        values["dn"] = ldap_group_dn
    where = sql.SQL(" AND ").join(parts)
    cur.execute(sql.SQL("SELECT count(*) FROM user_groups WHERE {}").format(where), values)
    total = cur.fetchone()[0]
    cur.execute(
        sql.SQL("SELECT " + _COLUMNS + " FROM user_groups WHERE {} ORDER BY id LIMIT %(limit)s OFFSET %(offset)s").format(where),
        {**values, "limit": params.limit, "offset": params.offset},
    )
    return [UserGroup(*row) for row in cur.fetchall()], total


def group_ids_of_user(cur, user_id: int) -> list[int]:
    cur.execute("SELECT group_id FROM user_group_members WHERE user_id = %(uid)s ORDER BY group_id", {"uid": user_id})
    return [row[0] for row in cur.fetchall()]


def set_user_groups(cur, user_id: int, group_ids: Sequence[int]) -> None:
    """Replace the user's group memberships with ``group_ids`` (as LDAP reported at login)."""
    cur.execute(
        "DELETE FROM user_group_members WHERE user_id = %(uid)s AND NOT (group_id = ANY(%(gids)s))",
        {"uid": user_id, "gids": list(group_ids)},
    )
    for group_id in group_ids:
        cur.execute(
            "INSERT INTO user_group_members (user_id, group_id) VALUES (%(uid)s, %(gid)s) ON CONFLICT DO NOTHING",
            {"uid": user_id, "gid": group_id},
        )
