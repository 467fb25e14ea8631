"""Running one delivered task: claim it, run its job, record the verdict, say what to do with the message.

The task row decides everything; the message is only a wake-up call:

* no such task, or an unparsable message      → reject (dead-letter queue)
* task final (a duplicate delivery)            → ack without running
* task Running (owned by a live process, or by a dead one whose lease the sweeper will reclaim)
                                               → ack without running
* unknown job type or invalid parameters       → task Error, reject
* job type at its concurrency limit            → re-publish on the type's short delay queue, ack
* claimed and run:
    success                                    → Success, ack
    stop requested and observed                → Stopped, ack
    process shutting down, job gave up early   → back to Pending, requeue
    failure, retry allowed                     → Pending + delayed message (exponential backoff), ack
    failure, no retry left or not retryable    → Error with the reason in the log, reject (DLQ)

The verdict is written before the message is settled, so an ack always follows a final record.
"""

from __future__ import annotations

import enum
import threading
import time
import traceback
from collections.abc import Callable
from typing import TypeVar

import structlog

from berth_common.db import Database
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.db.tasks import Task
from berth_jobservice.jobs.base import Job, JobContext, JobParameterError, JobRegistry, JobStopped, TaskLogger
from berth_jobservice.runtime.amqp import Publisher, PublishError, parse_job_message
from berth_jobservice.runtime.locks import acquire_slot
from berth_jobservice.services import tasks as task_service

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Outcome(enum.Enum):
    ACK = "ack"
    REJECT = "reject"  # to the dead-letter queue
    REQUEUE = "requeue"


def retry_delay(fail_number: int, base: float, cap: float) -> float:
    """Seconds before retry after failure number ``fail_number`` (1, 2, ...): base · 2^(n-1), capped."""
    return min(base * (2 ** max(0, fail_number - 1)), cap)


class TaskRunner:
    """Handles deliveries for one process (identified by ``owner``, its pool id)."""

    def __init__(
        self,
        *,
        db: Database,
        database_url: str,
        registry: JobRegistry,
        publisher: Publisher,
        owner: str,
        lease_seconds: float,
        retry_base_seconds: float,
        retry_max_seconds: float,
        busy_requeue_seconds: float,
        shutdown: threading.Event,
    ) -> None:
        self.db = db
        self.database_url = database_url
        self.registry = registry
        self.publisher = publisher
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.busy_requeue_ms = max(1, round(busy_requeue_seconds * 1000))
        self.shutdown = shutdown
        self._lock = threading.Lock()
        self._running: dict[int, tuple[JobContext, Task]] = {}

    # ------------------------------------------------------------------ what the heartbeat needs

    def running(self) -> dict[int, JobContext]:
        """Contexts of the tasks running in this process now, by task id."""
        with self._lock:
            return {task_id: ctx for task_id, (ctx, _task) in self._running.items()}

    def release_all(self, message: str) -> int:
        """Hand every running task back (Pending) without waiting for its job; returns how many.

        Used at the end of a shutdown grace period. A job still running afterwards cannot record
        anything: its writes are guarded by the lease this clears.
        """
        with self._lock:
            running = list(self._running.values())
        released = 0
        for ctx, task in running:
            try:
                if task_service.release(self.db, task, self.owner, message):
                    ctx.log.warning(message)
                    released += 1
            except Exception as exc:  # noqa: BLE001 - the lease lapses anyway and the sweeper re-runs it
                log.warning("task_release_failed", task_id=task.id, error=str(exc))
        return released

    # ------------------------------------------------------------------ delivery handling

    def handle(self, body: bytes) -> Outcome:
        """Process one job message; never raises."""
        try:
            return self._handle(body)
        except Exception:  # noqa: BLE001 - e.g. the database is down: try the message again later
            log.exception("task_delivery_failed")
            time.sleep(1.0)  # do not spin on a redelivery while the database is away
            return Outcome.REQUEUE

    def _handle(self, body: bytes) -> Outcome:
        try:
            task_id = parse_job_message(body)
        except ValueError as exc:
            log.error("job_message_invalid", error=str(exc))
            return Outcome.REJECT
        with self.db.transaction() as cur:
            task = tasks_db.get(cur, task_id)
        if task is None:
            log.error("job_message_unknown_task", task_id=task_id)
            return Outcome.REJECT
        if task.final or task.status == "Running":
            log.info("task_delivery_skipped", task_id=task.id, status=task.status)
            return Outcome.ACK
        job = self.registry.get(task.job_type)
        if job is None:
            task_service.fail_pending(self.db, task.id, f"unknown job type {task.job_type!r}")
            log.error("task_unknown_job_type", task_id=task.id, job_type=task.job_type)
            return Outcome.REJECT
        try:
            job.validate(task.parameters)
        except JobParameterError as exc:
            self._log_line(task, "error", f"invalid parameters: {exc}")
            task_service.fail_pending(self.db, task.id, f"invalid parameters: {exc}")
            return Outcome.REJECT

        slot = None
        if job.max_concurrency > 0:
            slot = acquire_slot(self.database_url, job.name, job.max_concurrency)
            if slot is None:
                return self._defer_busy(task)
        try:
            claimed = task_service.claim(self.db, task.id, self.owner, self.lease_seconds)
            if claimed is None:
                log.info("task_claim_lost", task_id=task.id)
                return Outcome.ACK
            return self._run(job, claimed)
        finally:
            if slot is not None:
                slot.release()

    def _defer_busy(self, task: Task) -> Outcome:
        """All concurrency slots are taken (maybe by another process): look again shortly."""
        try:
            self.publisher.publish_task(task.job_type, task.id, delay_ms=self.busy_requeue_ms)
        except PublishError as exc:
            log.warning("task_defer_failed", task_id=task.id, error=str(exc))
            return Outcome.REQUEUE
        log.debug("task_deferred_busy", task_id=task.id, job_type=task.job_type)
        return Outcome.ACK

    def _run(self, job: Job, task: Task) -> Outcome:
        ctx = JobContext(db=self.db, task=task, shutdown=self.shutdown)
        with self._lock:
            self._running[task.id] = (ctx, task)
        try:
            ctx.log.info(f"{job.name} run {task.run_count} started", task_id=task.id, pool=self.owner)
            error: Exception | None = None
            try:
                job.run(ctx, task.parameters)
            except JobStopped:
                ctx.stop_observed = True
            except Exception as exc:  # noqa: BLE001 - any failure of a job is recorded, not propagated
                error = exc
            return self._settle(job, task, ctx, error)
        finally:
            with self._lock:
                self._running.pop(task.id, None)

    def _settle(self, job: Job, task: Task, ctx: JobContext, error: Exception | None) -> Outcome:
        if ctx.stop_observed and ctx.stop_requested:
            ctx.log.info("stopped on request")
            return self._final(task, "Stopped", "stopped on request")
        if ctx.stop_observed and self.shutdown.is_set():
            # The job gave up because this process is going away: another one runs it again.
            ctx.log.warning("interrupted by a jobservice shutdown; the task is queued again")
            if self._db_retry(lambda: task_service.release(self.db, task, self.owner, "interrupted by a jobservice shutdown")):
                return Outcome.REQUEUE
            return Outcome.ACK
        if error is None:
            ctx.log.info(f"{job.name} run {task.run_count} succeeded")
            return self._final(task, "Success", "")

        reason = f"{type(error).__name__}: {error}"
        log.warning(
            "job_run_failed",
            task_id=task.id,
            job_type=job.name,
            error=reason,
            traceback="".join(traceback.format_exception(error)),
        )
        failures = task.fail_count + 1
        retryable = not isinstance(error, JobParameterError) and job.should_retry(error)
        if retryable and failures < job.max_fails:
            delay = retry_delay(failures, self.retry_base_seconds, self.retry_max_seconds)
            ctx.log.error(f"run {task.run_count} failed: {reason}")
            ctx.log.warning(f"retry {failures} of {job.max_fails - 1} in {delay:g}s")
            retried = self._db_retry(lambda: task_service.schedule_retry(self.db, task, self.owner, f"retrying after: {reason}"))
            if retried is None:
                log.warning("task_lease_lost", task_id=task.id)
                return Outcome.ACK
            try:
                self.publisher.publish_task(job.name, task.id, delay_ms=max(1, round(delay * 1000)))
                task_service.mark_enqueued(self.db, [(task.id, task.run_count)])
            except PublishError as exc:
                # The task is Pending and unconfirmed: the sweeper publishes it again.
                log.warning("task_retry_publish_deferred", task_id=task.id, error=str(exc))
            return Outcome.ACK

        if not retryable:
            ctx.log.error(f"run {task.run_count} failed, not retryable: {reason}")
        else:
            ctx.log.error(f"run {task.run_count} failed: {reason}")
            ctx.log.error(f"giving up after {failures} failed runs (max_fails {job.max_fails})")
        outcome = self._final(task, "Error", reason, failed=True)
        return Outcome.REJECT if outcome is Outcome.ACK else outcome

    def _final(self, task: Task, status: str, message: str, *, failed: bool = False) -> Outcome:
        done = self._db_retry(lambda: task_service.finish(self.db, task, self.owner, status=status, message=message, failed=failed))
        if done is None:
            log.warning("task_lease_lost", task_id=task.id, status=status)
        else:
            log.info("task_finished", task_id=task.id, job_type=task.job_type, status=status)
        return Outcome.ACK

    def _db_retry(self, write: Callable[[], T], attempts: int = 6) -> T:
        """Run a final write, retrying database trouble for a while (the lease keeps the task ours)."""
        delay = 0.25
        for attempt in range(1, attempts + 1):
            try:
                return write()
            except Exception as exc:
                if attempt == attempts:
                    raise
                log.warning("task_record_retry", attempt=attempt, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 4.0)
        raise AssertionError("unreachable")

    def _log_line(self, task: Task, level: str, message: str) -> None:
        getattr(TaskLogger(self.db, task.id, task.job_type), level)(message)
