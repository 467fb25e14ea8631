"""Recovery of tasks whose message or process went missing; what makes submission loss-proof.

Two cases, both decided by the task row:

* **Pending, never confirmed** (``enqueued_at`` NULL for longer than ``republish_after``): the
  submitter died or the broker was down between the commit and the confirm. Publish again.
* **Running, lease lapsed**: the owning process died (kill -9, lost host) or lost the database
  for longer than the lease. The broker may already have redelivered its message, but that
  delivery found the task Running and was acked; so the sweeper sets it Pending and publishes it
  again. After ``MAX_INTERRUPTIONS`` such losses the task ends Error instead, so a job that
  crashes its process cannot loop forever.

One sweeper acts at a time (a session advisory lock on a pooled connection, released at the end
of the round); duplicates would be harmless anyway, because only one delivery can claim a task.
"""

from __future__ import annotations

import dataclasses

import structlog

from berth_common.db import Database
from berth_jobservice.db import locks as locks_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.runtime.amqp import Publisher
from berth_jobservice.services import jobs as job_service
from berth_jobservice.services import tasks as task_service

log = structlog.get_logger(__name__)

MAX_INTERRUPTIONS = 3


@dataclasses.dataclass(frozen=True)
class SweepResult:
    reclaimed: int = 0
    given_up: int = 0
    republished: int = 0
    skipped: bool = False


def sweep(db: Database, publisher: Publisher, *, republish_after_seconds: float) -> SweepResult:
    """One round; ``skipped`` when another process is sweeping right now."""
    with db.connection() as conn:
        with conn.cursor() as cur:
            locked = locks_db.try_session_lock(cur, locks_db.key(locks_db.SWEEPER))
        conn.commit()
        if not locked:
            return SweepResult(skipped=True)
        try:
            return _sweep(db, publisher, republish_after_seconds)
        finally:
            with conn.cursor() as cur:
                locks_db.session_unlock(cur, locks_db.key(locks_db.SWEEPER))
            conn.commit()


def _sweep(db: Database, publisher: Publisher, republish_after_seconds: float) -> SweepResult:
    reclaimed = given_up = 0
    with db.transaction() as cur:
        expired = tasks_db.expired_leases(cur)
    for candidate in expired:
        task = task_service.reclaim(db, candidate.id, MAX_INTERRUPTIONS)
        if task is None:
            continue  # renewed meanwhile: its process is alive after all
        if task.status == "Error":
            given_up += 1
            log.error("task_given_up", task_id=task.id, job_type=task.job_type, interruptions=task.interrupt_count)
        else:
            reclaimed += 1
            log.warning("task_reclaimed", task_id=task.id, job_type=task.job_type, interruptions=task.interrupt_count)
    with db.transaction() as cur:
        # Reclaimed tasks are unconfirmed Pending now; publish them without waiting for the grace.
        stale = tasks_db.unconfirmed(cur, republish_after_seconds)
        fresh = [tasks_db.get(cur, candidate.id) for candidate in expired]
    queued = {t.id: t for t in stale}
    for task in fresh:
        if task is not None and task.status == "Pending" and task.enqueued_at is None:
            queued.setdefault(task.id, tasks_db.QueuedTask(task.id, task.job_type, task.run_count))
    republished = job_service.publish(db, publisher, list(queued.values())) if queued else []
    if republished:
        log.info("tasks_republished", count=len(republished))
    return SweepResult(reclaimed=reclaimed, given_up=given_up, republished=len(republished))
