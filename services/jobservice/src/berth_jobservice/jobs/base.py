"""The contract every job type implements (Harbor's ``job.Interface``) and the context it runs with.

A job type is a class with

* ``name``: the job type; also names its queue (``<prefix>.jobs.<name>``);
* ``max_fails``: runs ending in an error before the task is given up (Harbor's MaxFails, ≥ 1);
* ``max_concurrency``: 0 = unlimited, N = at most N running at once across *all* jobservice
  processes (1 = singleton);
* ``should_retry(error)``: whether a failure is worth another run (while max_fails allows);
* ``validate(params)``: raise :class:`JobParameterError` for bad parameters; called when the job
  is submitted and again before it runs;
* ``run(ctx, params)``: do the work; raise to fail; check ``ctx.stopped()`` between steps and
  return (or raise :class:`JobStopped`) when it says so.

A job must be safe to run again after an interrupted run (its process may die half way): the
runtime guarantees at most one run at a time and one successful run, not that a run is never cut.
"""

from __future__ import annotations

import abc
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import structlog

from berth_common.db import Database
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import tasks as tasks_db

_log = structlog.get_logger("berth.job")


class JobParameterError(ValueError):
    """The parameters of a job are invalid; the message says which and why."""


class JobStopped(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by a job that noticed ``ctx.stopped()`` deep in its call stack."""


class Job(abc.ABC):
    """Base class of job types; see the module docstring for the contract."""

    name: ClassVar[str]
    max_fails: int = 1
    max_concurrency: int = 0

    def should_retry(self, error: Exception) -> bool:
        """Whether a run that raised ``error`` deserves another one; by default yes."""
        return True

    def validate(self, params: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook, not abstract
        """Raise JobParameterError if ``params`` cannot be run; by default anything goes."""

    @abc.abstractmethod
    def run(self, ctx: JobContext, params: Mapping[str, Any]) -> None:
        """Do the work."""


class JobRegistry:
    """The job types a process knows, by name."""

    def __init__(self, jobs: Iterable[Job] = ()) -> None:
        self._jobs: dict[str, Job] = {}
        for job in jobs:
            self.register(job)

    def register(self, job: Job) -> None:
        if not getattr(job, "name", ""):
            raise ValueError(f"{type(job).__name__} has no name")
        if job.name in self._jobs:
            raise ValueError(f"job type {job.name!r} registered twice")
        if job.max_fails < 1 or job.max_concurrency < 0:
            raise ValueError(f"job type {job.name!r}: max_fails must be ≥ 1 and max_concurrency ≥ 0")
        self._jobs[job.name] = job

    def get(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def names(self) -> list[str]:
        return sorted(self._jobs)

    def __iter__(self):
        return iter(self._jobs[name] for name in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def validate(self, job_type: str, params: Mapping[str, Any]) -> Job:
        """The job type ``job_type`` after checking ``params``; raises JobParameterError."""
        job = self._jobs.get(job_type)
        if job is None:
            raise JobParameterError(f"unknown job type {job_type!r}; known: {', '.join(self.names())}")
        job.validate(params)
        return job


class TaskLogger:
    """Writes a task's log: each line goes to ``task_log`` (kept per task) and to structlog.

    Lines look like ``2024-05-01T10:00:00.123Z [INFO] message key=value``. A line that cannot be
    stored (database trouble) is still logged through structlog, so it reaches the collector.
    """

    def __init__(self, db: Database, task_id: int, job_type: str) -> None:
        self._db = db
        self._task_id = task_id
        self._job_type = job_type

    def debug(self, message: str, **fields: Any) -> None:
        self._write("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._write("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._write("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._write("error", message, fields)

    def _write(self, level: str, message: str, fields: dict[str, Any]) -> None:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        extra = "".join(f" {key}={value}" for key, value in fields.items())
        line = f"{stamp} [{level.upper()}] {message}{extra}"
        # The task's identity wins over same-named fields; "event" is structlog's own argument.
        bound = {("field_event" if key == "event" else key): value for key, value in fields.items()}
        bound.update(task_id=self._task_id, job_type=self._job_type, message=message)
        getattr(_log, level)("job_log", **bound)
        try:
            with self._db.transaction() as cur:
                tasks_db.append_log(cur, self._task_id, line)
        except Exception as exc:  # noqa: BLE001 - losing a stored line must not fail the job
            _log.warning("task_log_write_failed", task_id=self._task_id, error=str(exc))


class JobContext:
    """What a running job gets: its identity, a logger, progress, a stop check and the database."""

    def __init__(
        self,
        *,
        db: Database,
        task: tasks_db.Task,
        shutdown: threading.Event,
    ) -> None:
        self.db = db
        self.task_id = task.id
        self.execution_id = task.execution_id
        self.job_id = task.job_id
        self.job_type = task.job_type
        self.attempt = task.run_count
        self.log = TaskLogger(db, task.id, task.job_type)
        self._shutdown = shutdown
        self._stop_requested = threading.Event()
        self._lease_lost = threading.Event()
        self.stop_observed = False

    def stopped(self) -> bool:
        """True when the task was asked to stop, this process is shutting down, or the task was
        handed to another process (lease lost): wrap up and return."""
        if self._stop_requested.is_set() or self._shutdown.is_set() or self._lease_lost.is_set():
            self.stop_observed = True
            return True
        return False

    @property
    def stop_requested(self) -> bool:
        """A user (or core) asked this task to stop; set by the runtime from the task row."""
        return self._stop_requested.is_set()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def lose_lease(self) -> None:
        """The runtime found the task is no longer ours; nothing this run records will count."""
        self._lease_lost.set()

    def progress(self, percent: int, message: str = "") -> None:
        """Report progress (0–100) with a short message; readable through the API while running."""
        with self.db.transaction() as cur:
            tasks_db.set_progress(cur, self.task_id, percent, message)

    def set_result(self, **attrs: Any) -> None:
        """Merge ``attrs`` into the task's and the execution's extra_attrs (e.g. purge counts)."""
        with self.db.transaction() as cur:
            tasks_db.merge_extra_attrs(cur, self.task_id, attrs)
            executions_db.merge_extra_attrs(cur, self.execution_id, attrs)
