"""Cron schedules: validating them, computing their next run, and firing the due ones.

Cron expressions are Harbor's six fields with seconds first (``0 0 * * * *`` = hourly); the
classic five fields are accepted too (seconds = 0). Times are UTC and come from the database's
clock, so replicas agree.

Firing (``fire_due``, called by the one active scheduler) happens in one transaction per batch:
the due rows are locked (SKIP LOCKED), each gets ``last_run = now`` and ``next_run`` = the first
time *after now* (so a run missed during downtime fires once, not once per missed slot), and its
execution + Pending task are inserted with ``dedup_key = schedule:<id>:<slot>``. Even two
schedulers acting at once could therefore not fire one slot twice. Messages are published after
the commit (the sweeper covers a crash in between).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from croniter import CroniterBadCronError, croniter

from berth_common.db import Database
from berth_jobservice.db import queues as queues_db
from berth_jobservice.db import schedules as schedules_db
from berth_jobservice.db.schedules import Schedule
from berth_jobservice.db.tasks import Task
from berth_jobservice.jobs.base import JobParameterError, JobRegistry
from berth_jobservice.runtime.amqp import Publisher
from berth_jobservice.services import jobs as job_service

log = structlog.get_logger(__name__)

# Pausing this job type pauses the scheduler (Harbor's /schedules/all/paused reads the same).
SCHEDULER_JOB_TYPE = "SCHEDULER"
CRON_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Schedule")


def parse_cron(cron: str) -> croniter:
    """A croniter for a 6-field (seconds first) or 5-field expression; raises JobParameterError."""
    fields = cron.split()
    if len(fields) not in (5, 6):
        raise JobParameterError(f"cron {cron!r} must have 6 fields (seconds first) or 5")
    try:
        return croniter(cron, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), second_at_beginning=len(fields) == 6)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise JobParameterError(f"invalid cron {cron!r}: {exc}") from None


def next_run_after(after: dt.datetime, *, cron: str | None = None, interval_seconds: int | None = None) -> dt.datetime:
    """The first run time strictly after ``after``."""
    if cron is not None:
        fields = cron.split()
        return croniter(cron, after, second_at_beginning=len(fields) == 6).get_next(dt.datetime)
    if interval_seconds is not None:
        return after + dt.timedelta(seconds=interval_seconds)
    raise JobParameterError("a schedule needs a cron or an interval")


def save(
    db: Database,
    registry: JobRegistry,
    *,
    vendor_type: str,
    vendor_id: int = -1,
    callback_job_type: str,
    callback_params: dict[str, Any],
    cron: str | None = None,
    interval_seconds: int | None = None,
    cron_type: str = "Custom",
    extra_attrs: dict[str, Any] | None = None,
) -> Schedule:
    """Create or replace the schedule of (vendor_type, vendor_id); raises JobParameterError."""
    if (cron is None) == (interval_seconds is None):
        raise JobParameterError("give exactly one of cron and interval_seconds")
    if cron is not None:
        cron = " ".join(cron.split())
        parse_cron(cron)
    if interval_seconds is not None and interval_seconds <= 0:
        raise JobParameterError("interval_seconds must be positive")
    if cron_type not in CRON_TYPES:
        raise JobParameterError(f"schedule type must be one of {', '.join(CRON_TYPES)}")
    registry.validate(callback_job_type, callback_params)
    with db.transaction() as cur:
        now = schedules_db.db_now(cur)
        schedule = schedules_db.upsert(
            cur,
            vendor_type=vendor_type,
            vendor_id=vendor_id,
            cron_type=cron_type,
            cron=cron,
            interval_seconds=interval_seconds,
            callback_job_type=callback_job_type,
            callback_params=callback_params,
            extra_attrs=extra_attrs,
            next_run=next_run_after(now, cron=cron, interval_seconds=interval_seconds),
        )
    log.info("schedule_saved", schedule_id=schedule.id, vendor_type=vendor_type, vendor_id=vendor_id, cron=cron, interval=interval_seconds)
    return schedule


def ensure(
    db: Database,
    registry: JobRegistry,
    *,
    vendor_type: str,
    vendor_id: int = -1,
    callback_job_type: str,
    callback_params: dict[str, Any],
    cron: str | None = None,
    interval_seconds: int | None = None,
) -> Schedule:
    """``save`` unless an identical schedule exists; a restart then keeps its next_run."""
    with db.transaction() as cur:
        current = schedules_db.get_by_vendor(cur, vendor_type, vendor_id)
    if (
        current is not None
        and current.cron == cron
        and current.interval_seconds == interval_seconds
        and current.callback_job_type == callback_job_type
        and current.callback_params == callback_params
    ):
        return current
    return save(
        db,
        registry,
        vendor_type=vendor_type,
        vendor_id=vendor_id,
        callback_job_type=callback_job_type,
        callback_params=callback_params,
        cron=cron,
        interval_seconds=interval_seconds,
    )


def delete(db: Database, vendor_type: str, vendor_id: int = -1) -> bool:
    with db.transaction() as cur:
        return schedules_db.delete_by_vendor(cur, vendor_type, vendor_id)


def paused(db: Database) -> bool:
    with db.transaction() as cur:
        return queues_db.is_paused(cur, SCHEDULER_JOB_TYPE)


def fire_due(db: Database, publisher: Publisher, registry: JobRegistry, *, limit: int = 100) -> int:
    """Fire every due schedule once (see the module docstring); returns how many fired."""
    created: list[Task] = []
    fired = 0
    with db.transaction() as cur:
        now = schedules_db.db_now(cur)
        for schedule in schedules_db.lock_due(cur, limit):
            slot = schedule.next_run
            following = next_run_after(now, cron=schedule.cron, interval_seconds=schedule.interval_seconds)
            schedules_db.advance(cur, schedule.id, last_run=now, next_run=following)
            try:
                submitted = job_service.create_execution(
                    cur,
                    registry,
                    vendor_type=schedule.vendor_type,
                    vendor_id=schedule.vendor_id,
                    trigger="SCHEDULE",
                    tasks=[job_service.TaskSpec(schedule.callback_job_type, schedule.callback_params)],
                    extra_attrs={"schedule_id": schedule.id, "scheduled_for": slot.isoformat()},
                    dedup_key=f"schedule:{schedule.id}:{slot.isoformat()}",
                )
            except JobParameterError as exc:
                # Nothing was written for it; the schedule still moves on so it cannot spin.
                log.error("schedule_callback_invalid", schedule_id=schedule.id, error=str(exc))
                continue
            if submitted is not None:
                created.extend(submitted.tasks)
                fired += 1
                log.info(
                    "schedule_fired",
                    schedule_id=schedule.id,
                    vendor_type=schedule.vendor_type,
                    execution_id=submitted.execution.id,
                    slot=slot.isoformat(),
                    next_run=following.isoformat(),
                )
    if created:
        job_service.publish(db, publisher, created)
    return fired
