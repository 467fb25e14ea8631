"""Schedules (Harbor's ``schedule`` table): a cron or an interval that submits a job when due."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from psycopg2.extras import Json

from berth_jobservice.db import fetch_all, fetch_one

_COLUMNS = """id, vendor_type, vendor_id, cron_type, cron, interval_seconds, callback_job_type,
              callback_params, extra_attrs, next_run, last_run, creation_time, update_time"""


@dataclasses.dataclass(frozen=True)
class Schedule:
    id: int
    vendor_type: str
    vendor_id: int
    cron_type: str
    cron: str | None
    interval_seconds: int | None
    callback_job_type: str
    callback_params: dict[str, Any]
    extra_attrs: dict[str, Any]
    next_run: dt.datetime
    last_run: dt.datetime | None
    creation_time: dt.datetime
    update_time: dt.datetime


def db_now(cur: Any) -> dt.datetime:
    """The database's clock, the one every process agrees on."""
    cur.execute("SELECT now()")
    return cur.fetchone()[0]


def upsert(
    cur: Any,
    *,
    vendor_type: str,
    vendor_id: int,
    cron_type: str,
    cron: str | None,
    interval_seconds: int | None,
    callback_job_type: str,
    callback_params: dict[str, Any],
    extra_attrs: dict[str, Any] | None,
    next_run: dt.datetime,
) -> Schedule:
    """Create the vendor's schedule or replace its timing and callback (last_run is kept)."""
    cur.execute(
        f"""
        INSERT INTO schedule (vendor_type, vendor_id, cron_type, cron, interval_seconds, callback_job_type,
                              callback_params, extra_attrs, next_run)
        VALUES (%(vendor_type)s, %(vendor_id)s, %(cron_type)s, %(cron)s, %(interval)s, %(job_type)s,
                %(params)s, %(extra)s, %(next_run)s)
        ON CONFLICT (vendor_type, vendor_id) DO UPDATE
        SET cron_type = EXCLUDED.cron_type, cron = EXCLUDED.cron, interval_seconds = EXCLUDED.interval_seconds,
            callback_job_type = EXCLUDED.callback_job_type, callback_params = EXCLUDED.callback_params,
            extra_attrs = EXCLUDED.extra_attrs, next_run = EXCLUDED.next_run, update_time = now()
        RETURNING {_COLUMNS}
        """,
        {
            "vendor_type": vendor_type,
            "vendor_id": vendor_id,
            "cron_type": cron_type,
            "cron": cron,
            "interval": interval_seconds,
            "job_type": callback_job_type,
            "params": Json(callback_params),
            "extra": Json(extra_attrs or {}),
            "next_run": next_run,
        },
    )
    return fetch_one(cur, Schedule)


def get(cur: Any, schedule_id: int) -> Schedule | None:
    cur.execute(f"SELECT {_COLUMNS} FROM schedule WHERE id = %(id)s", {"id": schedule_id})
    return fetch_one(cur, Schedule)


def get_by_vendor(cur: Any, vendor_type: str, vendor_id: int) -> Schedule | None:
    cur.execute(
        f"SELECT {_COLUMNS} FROM schedule WHERE vendor_type = %(t)s AND vendor_id = %(v)s",
        {"t": vendor_type, "v": vendor_id},
    )
    return fetch_one(cur, Schedule)


def list_all(cur: Any, *, limit: int = 100, offset: int = 0) -> list[Schedule]:
    cur.execute(f"SELECT {_COLUMNS} FROM schedule ORDER BY id LIMIT %(limit)s OFFSET %(offset)s", {"limit": limit, "offset": offset})
    return fetch_all(cur, Schedule)


def count(cur: Any) -> int:
    cur.execute("SELECT count(*) FROM schedule")
    return cur.fetchone()[0]


def delete_by_vendor(cur: Any, vendor_type: str, vendor_id: int) -> bool:
    cur.execute("DELETE FROM schedule WHERE vendor_type = %(t)s AND vendor_id = %(v)s", {"t": vendor_type, "v": vendor_id})
    return cur.rowcount > 0


def lock_due(cur: Any, limit: int = 100) -> list[Schedule]:
    """Schedules whose next run has come, locked for this transaction (others skip them)."""
    cur.execute(
        f"""
        SELECT {_COLUMNS} FROM schedule WHERE next_run <= now()
        ORDER BY next_run LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        """,
        {"limit": limit},
    )
    return fetch_all(cur, Schedule)


def advance(cur: Any, schedule_id: int, *, last_run: dt.datetime, next_run: dt.datetime) -> None:
    cur.execute(
        "UPDATE schedule SET last_run = %(last)s, next_run = %(next)s WHERE id = %(id)s",
        {"id": schedule_id, "last": last_run, "next": next_run},
    )
