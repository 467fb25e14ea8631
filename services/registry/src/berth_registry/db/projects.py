"""Projects, the global read-only switch and storage quotas, as the registry needs them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import psycopg2.extensions

Cursor = psycopg2.extensions.cursor


@dataclasses.dataclass(frozen=True)
class Project:
    project_id: int
    name: str
    public: bool


@dataclasses.dataclass(frozen=True)
class Quota:
    project_id: int
    hard_storage: int  # bytes; -1 means unlimited
    used_storage: int

    def allows(self, extra: int) -> bool:
        """Whether ``extra`` more bytes fit."""
        return self.hard_storage < 0 or self.used_storage + extra <= self.hard_storage


_PROJECT_SELECT = """
    SELECT p.project_id, p.name, COALESCE(m.value = 'true', false)
    FROM projects p
    LEFT JOIN project_metadata m ON m.project_id = p.project_id AND m.name = 'public'
"""


def get_project(cur: Cursor, name: str) -> Project | None:
    """The live (not deleted) project called ``name``, with its ``public`` metadata flag."""
    cur.execute(_PROJECT_SELECT + " WHERE p.name = %(name)s AND NOT p.deleted", {"name": name})
    row = cur.fetchone()
    return Project(*row) if row else None


def get_many(cur: Cursor, project_ids: Iterable[int]) -> dict[int, Project]:
    """Projects by id (deleted ones included: their past events still need a name)."""
    cur.execute(_PROJECT_SELECT + " WHERE p.project_id = ANY(%(ids)s)", {"ids": list(project_ids)})
    return {row[0]: Project(*row) for row in cur.fetchall()}


def read_only(cur: Cursor) -> bool:
    """The ``read_only`` system configuration (a JSON boolean; a "true" string also counts)."""
    cur.execute("SELECT v FROM configurations WHERE k = 'read_only'")
    row = cur.fetchone()
    return bool(row) and row[0] in (True, "true")


PULL_SWITCHES = ("pull_time_update_disable", "pull_count_update_disable", "pull_audit_log_disable")


def pull_switches(cur: Cursor) -> frozenset[str]:
    """Which of Harbor's per-pull write switches (PULL_SWITCHES) the configuration turns on."""
    cur.execute("SELECT k, v FROM configurations WHERE k = ANY(%(keys)s)", {"keys": list(PULL_SWITCHES)})
    return frozenset(k for k, v in cur.fetchall() if v in (True, "true"))


def lock_quota(cur: Cursor, project_id: int) -> Quota:
    """The project's quota row, locked until the transaction ends (created unlimited if missing).

    Core creates the row with the project, so the insert is only for rows that went missing;
    trying the lock first saves a statement on every push.
    """
    select = "SELECT project_id, hard_storage, used_storage FROM quotas WHERE project_id = %(project_id)s FOR UPDATE"
    cur.execute(select, {"project_id": project_id})
    row = cur.fetchone()
    if row is None:
        cur.execute(
            "INSERT INTO quotas (project_id) VALUES (%(project_id)s) ON CONFLICT (project_id) DO NOTHING",
            {"project_id": project_id},
        )
        cur.execute(select, {"project_id": project_id})
        row = cur.fetchone()
    return Quota(*row)


def get_quota(cur: Cursor, project_id: int) -> Quota | None:
    """The project's quota without locking (for an early, advisory check)."""
    cur.execute(
        "SELECT project_id, hard_storage, used_storage FROM quotas WHERE project_id = %(project_id)s",
        {"project_id": project_id},
    )
    row = cur.fetchone()
    return Quota(*row) if row else None


def add_used_storage(cur: Cursor, project_id: int, delta: int) -> None:
    """Change the project's used storage by ``delta`` bytes (never below zero)."""
    cur.execute(
        """
        UPDATE quotas SET used_storage = GREATEST(used_storage + %(delta)s, 0), update_time = now()
        WHERE project_id = %(project_id)s
        """,
        {"project_id": project_id, "delta": delta},
    )
