"""The little the jobservice reads about projects (table owned by core, 0001)."""

from __future__ import annotations

from typing import Any


def id_by_name(cur: Any, name: str) -> int | None:
    """The id of the live project called ``name``, or None."""
    cur.execute("SELECT project_id FROM projects WHERE name = %(n)s AND NOT deleted", {"n": name})
    row = cur.fetchone()
    return row[0] if row else None
