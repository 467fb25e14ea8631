"""SQL of user accounts (table ``users``). Deleted users stay as rows (Harbor's soft delete)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from psycopg2 import sql

from berth_core.api.query import ListParams, SortKey
from berth_core.db import listing


@dataclasses.dataclass(frozen=True)
class User:
    user_id: int
    username: str
    email: str | None
    realname: str
    comment: str
    sysadmin_flag: bool
    admin_role_in_auth: bool
    auth_source: str  # 'db' or 'ldap'
    ldap_dn: str | None
    password_hash: str | None = dataclasses.field(repr=False)
    creation_time: dt.datetime
    update_time: dt.datetime

    @property
    def is_sysadmin(self) -> bool:
        return self.sysadmin_flag or self.admin_role_in_auth


_COLUMNS = (
    "user_id, username, email, realname, comment, sysadmin_flag, admin_role_in_auth, auth_source, ldap_dn, "
    "password_hash, creation_time, update_time"
)

LIST_COLUMNS: Mapping[str, sql.Composable] = {
    "user_id": sql.SQL("user_id"),
    "username": sql.SQL("username"),
    "email": sql.SQL("email"),
    "realname": sql.SQL("realname"),
    "sysadmin_flag": sql.SQL("sysadmin_flag"),
    "creation_time": sql.SQL("creation_time"),
    "update_time": sql.SQL("update_time"),
}


def _user(row) -> User:
    return User(*row)


def get_user(cur, user_id: int) -> User | None:
    cur.execute(f"SELECT {_COLUMNS} FROM users WHERE user_id = %(id)s AND NOT deleted", {"id": user_id})
    row = cur.fetchone()
    return _user(row) if row else None


def get_user_by_name(cur, username: str) -> User | None:
    cur.execute(f"SELECT {_COLUMNS} FROM users WHERE username = %(name)s AND NOT deleted", {"name": username})
    row = cur.fetchone()
    return _user(row) if row else None


def email_taken(cur, email: str, except_user_id: int | None = None) -> bool:
    cur.execute(
        "SELECT 1 FROM users WHERE lower(email) = lower(%(email)s) AND user_id IS DISTINCT FROM %(uid)s",
        {"email": email, "uid": except_user_id},
    )
    return cur.fetchone() is not None


def username_taken(cur, username: str) -> bool:
    cur.execute("SELECT 1 FROM users WHERE username = %(name)s", {"name": username})
    return cur.fetchone() is not None


def insert_user(
    cur,
    *,
    username: str,
    email: str | None,
    realname: str,
    comment: str,
    password_hash: str | None,
    sysadmin_flag: bool = False,
    auth_source: str = "db",
    ldap_dn: str | None = None,
) -> int | None:
    """Insert a user; returns its id, or None when the username or email is taken."""
    cur.execute(
        """
        INSERT INTO users (username, email, realname, comment, password_hash, sysadmin_flag, auth_source, ldap_dn)
        VALUES (%(username)s, %(email)s, %(realname)s, %(comment)s, %(hash)s, %(admin)s, %(source)s, %(dn)s)
        ON CONFLICT DO NOTHING
        RETURNING user_id
        """,
        {
            "username": username,
            "email": email,
            "realname": realname,
            "comment": comment,
            "hash": password_hash,
            "admin": sysadmin_flag,
            "source": auth_source,
            "dn": ldap_dn,
        },
    )
    row = cur.fetchone()
    return row[0] if row else None


def update_profile(cur, user_id: int, *, email: str | None, realname: str, comment: str) -> None:
    cur.execute(
        """
        UPDATE users SET email = %(email)s, realname = %(realname)s, comment = %(comment)s, update_time = now()
        WHERE user_id = %(id)s
        """,
        {"id": user_id, "email": email, "realname": realname, "comment": comment},
    )


def set_password_hash(cur, user_id: int, password_hash: str) -> None:
    cur.execute(
        "UPDATE users SET password_hash = %(hash)s, update_time = now() WHERE user_id = %(id)s",
        {"id": user_id, "hash": password_hash},
    )


def set_sysadmin(cur, user_id: int, flag: bool) -> None:
    cur.execute(
        "UPDATE users SET sysadmin_flag = %(flag)s, update_time = now() WHERE user_id = %(id)s",
        {"id": user_id, "flag": flag},
    )


def set_ldap_attributes(cur, user_id: int, *, ldap_dn: str, email: str | None, realname: str, admin_role_in_auth: bool) -> None:
    """Refresh what LDAP says about an onboarded user at each login."""
    cur.execute(
        """
        UPDATE users SET ldap_dn = %(dn)s, email = coalesce(%(email)s, email), realname = %(realname)s,
               admin_role_in_auth = %(admin)s, update_time = now()
        WHERE user_id = %(id)s
        """,
        {"id": user_id, "dn": ldap_dn, "email": email, "realname": realname, "admin": admin_role_in_auth},
    )


def mark_deleted(cur, user_id: int) -> None:
    """Harbor's soft delete: keep the row, free the username and email for reuse."""
    cur.execute(
        """
        UPDATE users SET deleted = true,
               username = left(username, 200) || '#' || user_id,
               email = CASE WHEN email IS NULL THEN NULL ELSE left(email, 200) || '#' || user_id END,
               password_hash = NULL, sysadmin_flag = false, admin_role_in_auth = false, update_time = now()
        WHERE user_id = %(id)s
        """,
        {"id": user_id},
    )


def count_active_users(cur) -> int:
    cur.execute("SELECT count(*) FROM users WHERE NOT deleted")
    return cur.fetchone()[0]


def list_users(cur, params: ListParams) -> tuple[list[User], int]:
    condition, values = listing.where(params.conditions, LIST_COLUMNS)
    base = sql.SQL("FROM users WHERE NOT deleted AND {}").format(condition)
    cur.execute(sql.SQL("SELECT count(*) ") + base, values)
    total = cur.fetchone()[0]
    page_sql, page_values = listing.limit_offset(params)
    order = listing.order_by(params.sort, LIST_COLUMNS, (SortKey("user_id"),), sql.SQL("user_id"))
    cur.execute(
        sql.SQL("SELECT " + _COLUMNS + " ") + base + sql.SQL(" ORDER BY {} ").format(order) + page_sql,
        {**values, **page_values},
    )
    return [_user(row) for row in cur.fetchall()], total


def search_users(cur, fragment: str, params: ListParams) -> tuple[list[tuple[int, str]], int]:
    """(user_id, username) of active users whose name contains ``fragment``, and the total."""
    values = {"pattern": f"%{listing.escape_like(fragment)}%"}
    cur.execute("SELECT count(*) FROM users WHERE NOT deleted AND username ILIKE %(pattern)s ESCAPE '\\'", values)
    total = cur.fetchone()[0]
    page_sql, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT user_id, username FROM users WHERE NOT deleted AND username ILIKE %(pattern)s ESCAPE '\\' ORDER BY username ")
        + page_sql,
        {**values, **page_values},
    )
    return [(row[0], row[1]) for row in cur.fetchall()], total


def ensure_user(cur, *, username: str, email: str | None, password_hash: str, sysadmin_flag: bool) -> int:
    """Create ``username`` if missing (idempotent, safe with concurrent callers); returns its id."""
    cur.execute(
        """
        INSERT INTO users (username, email, password_hash, sysadmin_flag, realname, comment)
        VALUES (%(name)s, %(email)s, %(hash)s, %(admin)s, 'system admin', 'admin user')
        ON CONFLICT (username) DO NOTHING
        """,
        {"name": username, "email": email, "hash": password_hash, "admin": sysadmin_flag},
    )
    cur.execute("SELECT user_id FROM users WHERE username = %(name)s", {"name": username})
    return cur.fetchone()[0]
