"""Task state changes, each one transaction that also re-derives the execution's status.

Lock order is always execution row, then task row, so two tasks of one execution finishing at the
same moment serialise on the execution and the second sees the first one's final status.
"""

from __future__ import annotations

from berth_common.db import Database
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.db.tasks import Task


def claim(db: Database, task_id: int, owner: str, lease_seconds: float) -> Task | None:
    """Start a run of a Pending task for ``owner``; None if it is not Pending (already done or taken).

    Pending → Running keeps the execution Running, so no refresh is needed.
    """
    with db.transaction() as cur:
        return tasks_db.claim(cur, task_id, owner, lease_seconds)


def finish(db: Database, task: Task, owner: str, *, status: str, message: str = "", failed: bool = False) -> Task | None:
    """End the run ``task.run_count`` with a final status; None if the run lost its lease meanwhile."""
    with db.transaction() as cur:
        executions_db.lock(cur, task.execution_id)
        done = tasks_db.finish(cur, task.id, owner, task.run_count, status=status, message=message, failed=failed)
        if done is not None:
            executions_db.refresh_status(cur, task.execution_id)
        return done


def schedule_retry(db: Database, task: Task, owner: str, message: str) -> Task | None:
    """Record a failed run that will be retried (Pending again, not yet enqueued)."""
    with db.transaction() as cur:
        return tasks_db.schedule_retry(cur, task.id, owner, task.run_count, message)


def release(db: Database, task: Task, owner: str, message: str) -> bool:
    """Hand a run back without a verdict (graceful shutdown); its message goes back to the queue."""
    with db.transaction() as cur:
        return tasks_db.release(cur, task.id, owner, task.run_count, message)


def fail_pending(db: Database, task_id: int, message: str) -> Task | None:
    """A Pending task that can never run → Error (execution refreshed)."""
    with db.transaction() as cur:
        task = _lock_execution_of(cur, task_id)
        if task is None:
            return None
        failed = tasks_db.fail_pending(cur, task_id, message)
        if failed is not None:
            executions_db.refresh_status(cur, task.execution_id)
        return failed


def reclaim(db: Database, task_id: int, max_interruptions: int) -> Task | None:
    """A Running task whose owner died → Pending (or Error after too many interruptions)."""
    with db.transaction() as cur:
        task = _lock_execution_of(cur, task_id)
        if task is None:
            return None
        reclaimed = tasks_db.reclaim(cur, task_id, max_interruptions)
        if reclaimed is not None and reclaimed.final:
            executions_db.refresh_status(cur, task.execution_id)
        return reclaimed


def _lock_execution_of(cur, task_id: int) -> Task | None:
    """The task, after locking its execution row first (see the module docstring); None for an unknown id."""
    task = tasks_db.get(cur, task_id)
    if task is not None:
        executions_db.lock(cur, task.execution_id)
    return task


def mark_enqueued(db: Database, confirmed: list[tuple[int, int]]) -> None:
    """Stamp confirmed messages, given as (task id, run_count at publish time)."""
    if confirmed:
        with db.transaction() as cur:
            tasks_db.mark_enqueued(cur, confirmed)


def stop(db: Database, task_id: int) -> Task | None:
    """Ask a task to stop: Pending ends Stopped now, Running is flagged (its job stops cooperatively).

    Returns the task as it is afterwards; None when there is no such task. A final task is
    returned unchanged.
    """
    with db.transaction() as cur:
        task = _lock_execution_of(cur, task_id)
        if task is None:
            return None
        stopped = tasks_db.request_stop(cur, task_id)
        if stopped is None:
            return tasks_db.get(cur, task_id)
        if stopped.final:
            executions_db.refresh_status(cur, task.execution_id)
        return stopped
