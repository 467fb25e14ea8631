"""Submitting and stopping work: the rows first, then the messages, so a job cannot be lost.

``submit`` writes the execution and its Pending tasks in one transaction, commits, then publishes
one message per task with publisher confirms and stamps ``enqueued_at``. If the process dies or
the broker is down between the commit and the confirm, the task stays Pending with no
``enqueued_at`` and the sweeper publishes it later. A message published twice is harmless: only
one delivery can claim a Pending task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import structlog

from berth_common.db import Database
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.db.executions import Execution
from berth_jobservice.db.tasks import QueuedTask, Task
from berth_jobservice.jobs.base import JobParameterError, JobRegistry
from berth_jobservice.runtime.amqp import Publisher, PublishError
from berth_jobservice.services import tasks as task_service

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task to create: which job runs it and with what parameters."""

    job_type: str
    parameters: dict[str, Any]
    extra_attrs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Submitted:
    execution: Execution
    tasks: list[Task]


def create_execution(
    cur: Any,
    registry: JobRegistry,
    *,
    vendor_type: str,
    tasks: Sequence[TaskSpec],
    vendor_id: int = -1,
    trigger: str = "MANUAL",
    extra_attrs: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> Submitted | None:
    """Insert an execution and its Pending tasks in the caller's transaction (nothing is published).

    Returns None when ``dedup_key`` was already used for this vendor. Raises JobParameterError
    for an unknown job type, invalid parameters or a bad trigger.
    """
    if trigger not in executions_db.TRIGGERS:
        raise JobParameterError(f"trigger must be one of {', '.join(executions_db.TRIGGERS)}")
    for spec in tasks:
        registry.validate(spec.job_type, spec.parameters)
    execution = executions_db.insert(
        cur, vendor_type=vendor_type, vendor_id=vendor_id, trigger=trigger, extra_attrs=extra_attrs, dedup_key=dedup_key
    )
    if execution is None:
        return None
    rows = [
        tasks_db.insert(cur, execution_id=execution.id, job_type=spec.job_type, parameters=spec.parameters, extra_attrs=spec.extra_attrs)
        for spec in tasks
    ]
    if not rows:
        # An execution without work is done as soon as it exists (Harbor marks it Success).
        executions_db.set_status(cur, execution.id, "Success")
        execution = executions_db.get(cur, execution.id)
    return Submitted(execution, rows)


def publish(db: Database, publisher: Publisher, tasks: Sequence[Task | QueuedTask]) -> list[int]:
    """Publish the tasks' messages with confirms and stamp the confirmed ones; returns their ids.

    Stops at the first failure: the rest stay unconfirmed and the sweeper publishes them later.
    """
    confirmed: list[tuple[int, int]] = []
    for task in tasks:
        try:
            publisher.publish_task(task.job_type, task.id)
        except PublishError as exc:
            log.warning("task_publish_deferred", task_id=task.id, job_type=task.job_type, error=str(exc))
            break
        confirmed.append((task.id, task.run_count))
    try:
        task_service.mark_enqueued(db, confirmed)
    except Exception as exc:  # noqa: BLE001 - the sweeper re-publishes; a duplicate message is harmless
        log.warning("task_enqueued_stamp_failed", error=str(exc))
    return [task_id for task_id, _ in confirmed]


def submit(
    db: Database,
    publisher: Publisher,
    registry: JobRegistry,
    job_type: str,
    parameters: dict[str, Any],
    *,
    vendor_type: str | None = None,
    vendor_id: int = -1,
    trigger: str = "MANUAL",
    extra_attrs: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> Submitted | None:
    """Create an execution with one task of ``job_type`` and queue it; see the module docstring.

    ``vendor_type`` defaults to the job type (Harbor uses e.g. GARBAGE_COLLECTION for both).
    Returns None for a duplicate ``dedup_key``. Raises JobParameterError for invalid input.
    """
    with db.transaction() as cur:
        submitted = create_execution(
            cur,
            registry,
            vendor_type=vendor_type or job_type,
            vendor_id=vendor_id,
            trigger=trigger,
            tasks=[TaskSpec(job_type, parameters)],
            extra_attrs=extra_attrs,
            dedup_key=dedup_key,
        )
    if submitted is not None:
        publish(db, publisher, submitted.tasks)
        log.info("execution_submitted", execution_id=submitted.execution.id, job_type=job_type, trigger=trigger)
    return submitted


def stop_execution(db: Database, execution_id: int) -> Execution | None:
    """Stop every unfinished task of an execution; returns the execution afterwards (None: unknown id)."""
    with db.transaction() as cur:
        execution = executions_db.get(cur, execution_id)
        if execution is None:
            return None
        tasks = tasks_db.list_for_execution(cur, execution_id)
        if not tasks and execution.status == "Running":
            executions_db.set_status(cur, execution_id, "Stopped")
        task_ids = [task.id for task in tasks if not task.final]
    for task_id in task_ids:
        task_service.stop(db, task_id)
    with db.transaction() as cur:
        return executions_db.get(cur, execution_id)
