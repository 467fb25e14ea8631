"""Executions (Harbor's ``execution`` table): one run of a vendor's work, made of tasks.

An execution's status is derived from its tasks the way Harbor's ``refreshStatus`` does it: any
task Pending or Running → Running; else any Error → Error; else any Stopped → Stopped; else
Success. Callers change a task and refresh its execution in one transaction, after locking the
execution row (``lock``) so two tasks finishing together cannot both see the other one running.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from psycopg2.extras import Json

from berth_jobservice.db import fetch_all, fetch_one

TRIGGERS = ("MANUAL", "SCHEDULE", "EVENT")
FINAL_STATUSES = ("Success", "Error", "Stopped")

_COLUMNS = """id, vendor_type, vendor_id, status, status_message, trigger, extra_attrs, dedup_key,
              start_time, end_time, update_time"""


@dataclasses.dataclass(frozen=True)
class Execution:
    id: int
    vendor_type: str
    vendor_id: int
    status: str
    status_message: str
    trigger: str
    extra_attrs: dict[str, Any]
    dedup_key: str | None
    start_time: dt.datetime
    end_time: dt.datetime | None
    update_time: dt.datetime


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Task counts of one execution by status (Harbor's ``metrics`` object)."""

    task_count: int
    success_task_count: int
    error_task_count: int
    pending_task_count: int
    running_task_count: int
    scheduled_task_count: int
    stopped_task_count: int


def insert(
    cur: Any,
    *,
    vendor_type: str,
    vendor_id: int,
    trigger: str,
    extra_attrs: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> Execution | None:
    """Create an execution; None when ``dedup_key`` is already used for this vendor (nothing created)."""
    cur.execute(
        f"""
        INSERT INTO execution (vendor_type, vendor_id, trigger, extra_attrs, dedup_key)
        VALUES (%(vendor_type)s, %(vendor_id)s, %(trigger)s, %(extra)s, %(dedup)s)
        ON CONFLICT (vendor_type, vendor_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING {_COLUMNS}
        """,
        {
            "vendor_type": vendor_type,
            "vendor_id": vendor_id,
            "trigger": trigger,
            "extra": Json(extra_attrs or {}),
            "dedup": dedup_key,
        },
    )
    return fetch_one(cur, Execution)


def get(cur: Any, execution_id: int) -> Execution | None:
    cur.execute(f"SELECT {_COLUMNS} FROM execution WHERE id = %(id)s", {"id": execution_id})
    return fetch_one(cur, Execution)


def lock(cur: Any, execution_id: int) -> Execution | None:
    """Lock the execution row for the rest of the transaction (see the module docstring)."""
    cur.execute(f"SELECT {_COLUMNS} FROM execution WHERE id = %(id)s FOR UPDATE", {"id": execution_id})
    return fetch_one(cur, Execution)


def list_by_vendor(cur: Any, vendor_type: str, vendor_id: int | None = None, *, limit: int = 100, offset: int = 0) -> list[Execution]:
    """Executions of a vendor type (and vendor id), newest first."""
    cur.execute(
        f"""
        SELECT {_COLUMNS} FROM execution
        WHERE vendor_type = %(vendor_type)s AND (%(vendor_id)s::bigint IS NULL OR vendor_id = %(vendor_id)s)
        ORDER BY start_time DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s
        """,
        {"vendor_type": vendor_type, "vendor_id": vendor_id, "limit": limit, "offset": offset},
    )
    return fetch_all(cur, Execution)


def count_by_vendor(cur: Any, vendor_type: str, vendor_id: int | None = None) -> int:
    cur.execute(
        """
        SELECT count(*) FROM execution
        WHERE vendor_type = %(vendor_type)s AND (%(vendor_id)s::bigint IS NULL OR vendor_id = %(vendor_id)s)
        """,
        {"vendor_type": vendor_type, "vendor_id": vendor_id},
    )
    return cur.fetchone()[0]


def refresh_status(cur: Any, execution_id: int) -> str | None:
    """Derive the execution's status from its tasks and store it; returns it (None: no tasks yet)."""
    cur.execute(
        """
        WITH derived AS (
            SELECT count(*) AS tasks,
                   CASE WHEN count(*) FILTER (WHERE status IN ('Pending', 'Running')) > 0 THEN 'Running'
                        WHEN count(*) FILTER (WHERE status = 'Error') > 0 THEN 'Error'
                        WHEN count(*) FILTER (WHERE status = 'Stopped') > 0 THEN 'Stopped'
                        ELSE 'Success' END AS status
            FROM task WHERE execution_id = %(id)s
        )
        UPDATE execution e
        SET status = d.status,
            end_time = CASE WHEN d.status = 'Running' THEN NULL ELSE coalesce(e.end_time, now()) END,
            update_time = now()
        FROM derived d
        WHERE e.id = %(id)s AND d.tasks > 0
        RETURNING e.status
        """,
        {"id": execution_id},
    )
    row = cur.fetchone()
    return row[0] if row else None


def set_status(cur: Any, execution_id: int, status: str, message: str = "") -> None:
    """Set the status of an execution directly (one without tasks, e.g. stopped before it had any)."""
    cur.execute(
        """
        UPDATE execution SET status = %(status)s, status_message = %(message)s, update_time = now(),
               end_time = CASE WHEN %(status)s = 'Running' THEN NULL ELSE now() END
        WHERE id = %(id)s
        """,
        {"id": execution_id, "status": status, "message": message},
    )


def merge_extra_attrs(cur: Any, execution_id: int, attrs: dict[str, Any]) -> None:
    """Add or replace top-level keys of the execution's extra_attrs."""
    cur.execute(
        "UPDATE execution SET extra_attrs = extra_attrs || %(attrs)s, update_time = now() WHERE id = %(id)s",
        {"id": execution_id, "attrs": Json(attrs)},
    )


def metrics(cur: Any, execution_id: int) -> Metrics:
    cur.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE status = 'Success'),
               count(*) FILTER (WHERE status = 'Error'),
               count(*) FILTER (WHERE status = 'Pending'),
               count(*) FILTER (WHERE status = 'Running'),
               0,
               count(*) FILTER (WHERE status = 'Stopped')
        FROM task WHERE execution_id = %(id)s
        """,
        {"id": execution_id},
    )
    return Metrics(*cur.fetchone())


def last_per_event_type(cur: Any, vendor_type: str, vendor_ids: list[int]) -> dict[tuple[int, str], dt.datetime]:
    """Newest start time per (vendor id, extra_attrs.event_type): Harbor's webhook "last trigger"."""
    cur.execute(
        """
        SELECT vendor_id, extra_attrs->>'event_type', max(start_time)
        FROM execution
        WHERE vendor_type = %(vendor_type)s AND vendor_id = ANY(%(ids)s) AND extra_attrs ? 'event_type'
        GROUP BY vendor_id, extra_attrs->>'event_type'
        """,
        {"vendor_type": vendor_type, "ids": list(vendor_ids)},
    )
    return {(row[0], row[1]): row[2] for row in cur.fetchall()}
