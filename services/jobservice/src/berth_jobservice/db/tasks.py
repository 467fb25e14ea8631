"""Tasks (Harbor's ``task`` table) and their logs: every state change of a job is one statement here.

State machine (status_code in brackets, as Harbor orders them):

    Pending [0] ──claim──► Running [2] ──finish──► Success | Error | Stopped [3]
       ▲  │                    │
       │  └─stop─► Stopped     ├─retry (fail_count+1)──► Pending, enqueued_at NULL until the
       │                       │                         delayed message is confirmed
       └───────────────────────┴─release (shutdown) / reclaim (lease expired)

Writes that finish a run are guarded by (lease_owner, run_count), so a process that lost its
lease (it was presumed dead and the task was handed out again) cannot overwrite the newer run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from psycopg2.extras import Json

from berth_jobservice.db import fetch_all, fetch_one

FINAL_STATUSES = ("Success", "Error", "Stopped")
STATUS_CODES = {"Pending": 0, "Running": 2, "Stopped": 3, "Error": 3, "Success": 3}

_COLUMNS = """id, execution_id, job_id, job_type, parameters, status, status_code, status_message,
              run_count, fail_count, interrupt_count, extra_attrs, progress, progress_message,
              stop_requested, enqueued_at, lease_owner, lease_expires_at, creation_time,
              start_time, update_time, end_time"""


@dataclasses.dataclass(frozen=True)
class Task:
    id: int
    execution_id: int
    job_id: str
    job_type: str
    parameters: dict[str, Any]
    status: str
    status_code: int
    status_message: str
    run_count: int
    fail_count: int
    interrupt_count: int
    extra_attrs: dict[str, Any]
    progress: int
    progress_message: str
    stop_requested: bool
    enqueued_at: dt.datetime | None
    lease_owner: str | None
    lease_expires_at: dt.datetime | None
    creation_time: dt.datetime
    start_time: dt.datetime | None
    update_time: dt.datetime
    end_time: dt.datetime | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class QueuedTask:
    """What publishing a task needs: its id and job type, and its run_count to stamp it."""

    id: int
    job_type: str
    run_count: int


@dataclasses.dataclass(frozen=True)
class RunningTask:
    """A task a process is running now (Harbor's busy worker)."""

    id: int
    job_id: str
    job_type: str
    lease_owner: str
    start_time: dt.datetime | None
    progress: int
    progress_message: str
    update_time: dt.datetime


@dataclasses.dataclass(frozen=True)
class PendingCount:
    """Pending tasks of one job type and how long the oldest has waited."""

    job_type: str
    count: int
    latency_seconds: int


def insert(cur: Any, *, execution_id: int, job_type: str, parameters: dict[str, Any], extra_attrs: dict[str, Any] | None = None) -> Task:
    cur.execute(
        f"""
        INSERT INTO task (execution_id, job_type, parameters, extra_attrs)
        VALUES (%(execution_id)s, %(job_type)s, %(parameters)s, %(extra)s)
        RETURNING {_COLUMNS}
        """,
        {"execution_id": execution_id, "job_type": job_type, "parameters": Json(parameters), "extra": Json(extra_attrs or {})},
    )
    return fetch_one(cur, Task)


def get(cur: Any, task_id: int) -> Task | None:
    cur.execute(f"SELECT {_COLUMNS} FROM task WHERE id = %(id)s", {"id": task_id})
    return fetch_one(cur, Task)


def get_by_job_id(cur: Any, job_id: str) -> Task | None:
    cur.execute(f"SELECT {_COLUMNS} FROM task WHERE job_id = %(job_id)s", {"job_id": job_id})
    return fetch_one(cur, Task)


def list_for_execution(cur: Any, execution_id: int) -> list[Task]:
    cur.execute(f"SELECT {_COLUMNS} FROM task WHERE execution_id = %(id)s ORDER BY id", {"id": execution_id})
    return fetch_all(cur, Task)


def mark_enqueued(cur: Any, confirmed: list[tuple[int, int]]) -> None:
    """Record that the broker confirmed messages, given as (task id, run_count when published).

    Only a task still Pending in that same phase is stamped: a late stamp must not mark a later
    retry as enqueued when that retry's own message never got confirmed.
    """
    cur.execute(
        """
        UPDATE task SET enqueued_at = now()
        FROM unnest(%(ids)s::bigint[], %(runs)s::int[]) AS c(id, run_count)
        WHERE task.id = c.id AND task.run_count = c.run_count AND task.status = 'Pending'
        """,
        {"ids": [task_id for task_id, _ in confirmed], "runs": [run for _, run in confirmed]},
    )


def claim(cur: Any, task_id: int, owner: str, lease_seconds: float) -> Task | None:
    """Pending → Running for ``owner``; None when the task is not Pending (done, running, stopped)."""
    cur.execute(
        f"""
        UPDATE task
        SET status = 'Running', status_code = 2, status_message = '', run_count = run_count + 1,
            lease_owner = %(owner)s, lease_expires_at = now() + make_interval(secs => %(lease)s),
            start_time = now(), update_time = now(), end_time = NULL
        WHERE id = %(id)s AND status = 'Pending' AND NOT stop_requested
        RETURNING {_COLUMNS}
        """,
        {"id": task_id, "owner": owner, "lease": lease_seconds},
    )
    return fetch_one(cur, Task)


def renew_leases(cur: Any, owner: str, task_ids: list[int], lease_seconds: float) -> dict[int, bool]:
    """Push the leases of ``owner``'s running tasks forward; returns {task id: stop requested}.

    A task missing from the answer is no longer ours (reclaimed after our lease lapsed).
    """
    cur.execute(
        """
        UPDATE task SET lease_expires_at = now() + make_interval(secs => %(lease)s)
        WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s AND status = 'Running'
        RETURNING id, stop_requested
        """,
        {"ids": list(task_ids), "owner": owner, "lease": lease_seconds},
    )
    return {row[0]: row[1] for row in cur.fetchall()}


def finish(cur: Any, task_id: int, owner: str, run_count: int, *, status: str, message: str = "", failed: bool = False) -> Task | None:
    """End the run ``run_count`` of ``owner`` with a final status; None if that run is not current."""
    cur.execute(
        f"""
        UPDATE task
        SET status = %(status)s, status_code = %(code)s, status_message = %(message)s,
            fail_count = fail_count + %(failed)s,
            progress = CASE WHEN %(status)s = 'Success' THEN 100 ELSE progress END,
            lease_owner = NULL, lease_expires_at = NULL, end_time = now(), update_time = now()
        WHERE id = %(id)s AND lease_owner = %(owner)s AND run_count = %(run)s AND status = 'Running'
        RETURNING {_COLUMNS}
        """,
        {
            "id": task_id,
            "owner": owner,
            "run": run_count,
            "status": status,
            "code": STATUS_CODES[status],
            "message": message[:4000],
            "failed": 1 if failed else 0,
        },
    )
    return fetch_one(cur, Task)


def schedule_retry(cur: Any, task_id: int, owner: str, run_count: int, message: str) -> Task | None:
    """A failed run that will be retried: back to Pending with one more failure, not yet enqueued."""
    cur.execute(
        f"""
        UPDATE task
        SET status = 'Pending', status_code = 0, status_message = %(message)s, fail_count = fail_count + 1,
            enqueued_at = NULL, lease_owner = NULL, lease_expires_at = NULL, update_time = now()
        WHERE id = %(id)s AND lease_owner = %(owner)s AND run_count = %(run)s AND status = 'Running'
        RETURNING {_COLUMNS}
        """,
        {"id": task_id, "owner": owner, "run": run_count, "message": message[:4000]},
    )
    return fetch_one(cur, Task)


def release(cur: Any, task_id: int, owner: str, run_count: int, message: str) -> bool:
    """Give a run back without a verdict (graceful shutdown): Pending again.

    Its message is normally requeued by the broker; enqueued_at is cleared all the same, so the
    sweeper re-publishes it if that message was settled some other way during the shutdown.
    """
    cur.execute(
        """
        UPDATE task
        SET status = 'Pending', status_code = 0, status_message = %(message)s, enqueued_at = NULL,
            lease_owner = NULL, lease_expires_at = NULL, update_time = now()
        WHERE id = %(id)s AND lease_owner = %(owner)s AND run_count = %(run)s AND status = 'Running'
        """,
        {"id": task_id, "owner": owner, "run": run_count, "message": message},
    )
    return cur.rowcount == 1


def expired_leases(cur: Any, limit: int = 100) -> list[QueuedTask]:
    """Running tasks whose owner stopped renewing the lease (its process is presumed dead)."""
    cur.execute(
        """
        SELECT id, job_type, run_count FROM task
        WHERE status = 'Running' AND lease_expires_at < now()
        ORDER BY lease_expires_at LIMIT %(limit)s
        """,
        {"limit": limit},
    )
    return fetch_all(cur, QueuedTask)


def reclaim(cur: Any, task_id: int, max_interruptions: int) -> Task | None:
    """A Running task whose lease lapsed: Pending again (to be published anew), or Error once it
    has been interrupted more than ``max_interruptions`` times. None if the lease is live again."""
    cur.execute(
        f"""
        UPDATE task
        SET interrupt_count = interrupt_count + 1,
            status = CASE WHEN interrupt_count + 1 > %(max)s THEN 'Error' ELSE 'Pending' END,
            status_code = CASE WHEN interrupt_count + 1 > %(max)s THEN 3 ELSE 0 END,
            status_message = CASE WHEN interrupt_count + 1 > %(max)s
                                  THEN 'the process running this task died ' || (interrupt_count + 1) || ' times; giving up'
                                  ELSE 'the process running this task stopped answering; the task is queued again' END,
            end_time = CASE WHEN interrupt_count + 1 > %(max)s THEN now() ELSE NULL END,
            enqueued_at = NULL, lease_owner = NULL, lease_expires_at = NULL, update_time = now()
        WHERE id = %(id)s AND status = 'Running' AND lease_expires_at < now()
        RETURNING {_COLUMNS}
        """,
        {"id": task_id, "max": max_interruptions},
    )
    return fetch_one(cur, Task)


def fail_pending(cur: Any, task_id: int, message: str) -> Task | None:
    """A Pending task that can never run (unknown job type, invalid parameters) → Error."""
    cur.execute(
        f"""
        UPDATE task
        SET status = 'Error', status_code = 3, status_message = %(message)s, end_time = now(), update_time = now()
        WHERE id = %(id)s AND status = 'Pending'
        RETURNING {_COLUMNS}
        """,
        {"id": task_id, "message": message[:4000]},
    )
    return fetch_one(cur, Task)


def unconfirmed(cur: Any, older_than_seconds: float, limit: int = 500) -> list[QueuedTask]:
    """Pending tasks whose message was never confirmed by the broker, oldest first."""
    cur.execute(
        """
        SELECT id, job_type, run_count FROM task
        WHERE status = 'Pending' AND enqueued_at IS NULL AND NOT stop_requested
          AND update_time < now() - make_interval(secs => %(age)s)
        ORDER BY update_time LIMIT %(limit)s
        """,
        {"age": older_than_seconds, "limit": limit},
    )
    return fetch_all(cur, QueuedTask)


def request_stop(cur: Any, task_id: int) -> Task | None:
    """Stop a task: a Pending one ends Stopped now; a Running one is flagged for its job to notice."""
    cur.execute(
        f"""
        UPDATE task
        SET stop_requested = true,
            status = CASE WHEN status = 'Pending' THEN 'Stopped' ELSE status END,
            status_code = CASE WHEN status = 'Pending' THEN 3 ELSE status_code END,
            status_message = CASE WHEN status = 'Pending' THEN 'stopped before it started' ELSE status_message END,
            end_time = CASE WHEN status = 'Pending' THEN now() ELSE end_time END,
            update_time = now()
        WHERE id = %(id)s AND status IN ('Pending', 'Running')
        RETURNING {_COLUMNS}
        """,
        {"id": task_id},
    )
    return fetch_one(cur, Task)


def pending_ids(cur: Any, job_type: str | None, limit: int = 10000) -> list[QueuedTask]:
    """Pending tasks of a job type (all types when None), oldest first."""
    cur.execute(
        """
        SELECT id, job_type, run_count FROM task
        WHERE status = 'Pending' AND (%(job_type)s::text IS NULL OR job_type = %(job_type)s)
        ORDER BY id LIMIT %(limit)s
        """,
        {"job_type": job_type, "limit": limit},
    )
    return fetch_all(cur, QueuedTask)


def set_progress(cur: Any, task_id: int, percent: int, message: str) -> None:
    cur.execute(
        "UPDATE task SET progress = %(p)s, progress_message = %(m)s, update_time = now() WHERE id = %(id)s",
        {"id": task_id, "p": max(0, min(100, int(percent))), "m": message[:1000]},
    )


def merge_extra_attrs(cur: Any, task_id: int, attrs: dict[str, Any]) -> None:
    cur.execute(
        "UPDATE task SET extra_attrs = extra_attrs || %(attrs)s, update_time = now() WHERE id = %(id)s",
        {"id": task_id, "attrs": Json(attrs)},
    )


def pending_counts(cur: Any) -> list[PendingCount]:
    """Per job type: Pending tasks and the age of the oldest, in seconds (Harbor's queue latency)."""
    cur.execute(
        """
        SELECT job_type, count(*) AS count,
               coalesce(extract(epoch FROM now() - min(update_time)), 0)::bigint AS latency_seconds
        FROM task WHERE status = 'Pending' GROUP BY job_type ORDER BY job_type
        """
    )
    return fetch_all(cur, PendingCount)


def running(cur: Any, owner: str | None = None) -> list[RunningTask]:
    """Running tasks, of one process (pool id) or of all."""
    cur.execute(
        """
        SELECT id, job_id, job_type, lease_owner, start_time, progress, progress_message, update_time
        FROM task WHERE status = 'Running' AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s)
        ORDER BY start_time
        """,
        {"owner": owner},
    )
    return fetch_all(cur, RunningTask)


# --------------------------------------------------------------------------------------------
# Task logs


def append_log(cur: Any, task_id: int, line: str) -> None:
    cur.execute("INSERT INTO task_log (task_id, line) VALUES (%(id)s, %(line)s)", {"id": task_id, "line": line})


def read_log(cur: Any, task_id: int, max_bytes: int = 10 * 1024 * 1024) -> str:
    """The task's log as text, oldest line first, cut to the newest ``max_bytes`` (Harbor caps at 10 MB)."""
    cur.execute(
        """
        SELECT line FROM (
            SELECT seq, line, sum(octet_length(line) + 1) OVER (ORDER BY seq DESC) AS tail_bytes
            FROM task_log WHERE task_id = %(id)s
        ) t WHERE tail_bytes <= %(max)s ORDER BY seq
        """,
        {"id": task_id, "max": max_bytes},
    )
    return "".join(row[0] + "\n" for row in cur.fetchall())
