"""Purging audit records (table in 0001) for the PURGE_AUDIT_LOG job, in bounded batches."""

from __future__ import annotations

from typing import Any


def _filter() -> str:
    # An operation matches by itself ("delete") or as Harbor's event type ("delete_artifact").
    return """op_time < now() - make_interval(hours => %(hours)s)
              AND (operation = ANY(%(operations)s) OR (operation || '_' || resource_type) = ANY(%(event_types)s))"""


def count_older_than(cur: Any, *, hours: int, operations: list[str], event_types: list[str]) -> int:
    """How many records a purge with these parameters would delete."""
    cur.execute(
        f"SELECT count(*) FROM audit_log WHERE {_filter()}",
        {"hours": hours, "operations": list(operations), "event_types": list(event_types)},
    )
    return cur.fetchone()[0]


def delete_batch_older_than(cur: Any, *, hours: int, operations: list[str], event_types: list[str], batch: int) -> int:
    """Delete up to ``batch`` matching records (oldest first); returns how many."""
    cur.execute(
        f"""
        DELETE FROM audit_log WHERE id IN (
            SELECT id FROM audit_log WHERE {_filter()} ORDER BY op_time LIMIT %(batch)s
        )
        """,
        {"hours": hours, "operations": list(operations), "event_types": list(event_types), "batch": batch},
    )
    return cur.rowcount
