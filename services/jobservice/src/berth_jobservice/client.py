"""What core (or any other service) uses to drive the jobservice: one object, no HTTP hop.

Core's REST endpoints (/api/v2.0/jobservice/*, /schedules, /system/purgeaudit, webhook policies)
call these methods inside their own request; the rules (validation, status derivation, rows
before messages) stay in the jobservice's services, the SQL in its db modules.

    client = JobClient.create(db, rabbitmq_url="amqp://...", amqp_prefix="berth")
    submitted = client.submit("PURGE_AUDIT_LOG", {"audit_retention_hour": 168, ...})
    client.task_log(submitted.tasks[0].id)

Invalid input raises :class:`~berth_jobservice.jobs.base.JobParameterError` (a ValueError with a
message fit for a 400 answer); unknown ids return None or False (a 404).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from berth_common.db import Database
from berth_jobservice.db import executions as executions_db
from berth_jobservice.db import pools as pools_db
from berth_jobservice.db import queues as queues_db
from berth_jobservice.db import schedules as schedules_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.db import webhook_policies as policies_db
from berth_jobservice.db.executions import Execution, Metrics
from berth_jobservice.db.pools import Pool
from berth_jobservice.db.schedules import Schedule
from berth_jobservice.db.tasks import Task
from berth_jobservice.db.webhook_policies import WebhookPolicy
from berth_jobservice.jobs import default_registry
from berth_jobservice.jobs.base import JobParameterError, JobRegistry
from berth_jobservice.runtime.amqp import Publisher, Topology
from berth_jobservice.services import jobs as job_service
from berth_jobservice.services import schedules as schedule_service
from berth_jobservice.services import tasks as task_service
from berth_jobservice.services import webhooks as webhook_service
from berth_jobservice.settings import JobserviceSettings

ALL = "all"


@dataclasses.dataclass(frozen=True)
class JobQueue:
    """Harbor's JobQueue: pending jobs of a type, the oldest one's wait, and the pause flag."""

    job_type: str
    count: int
    latency: int
    paused: bool


@dataclasses.dataclass(frozen=True)
class Worker:
    """Harbor's Worker: one slot of a pool, busy with a job or idle (empty job fields)."""

    id: str
    pool_id: str
    job_name: str
    job_id: str
    start_at: dt.datetime | None
    check_in: str
    checkin_at: dt.datetime | None


class JobClient:
    def __init__(self, db: Database, publisher: Publisher, registry: JobRegistry) -> None:
        self.db = db
        self.publisher = publisher
        self.registry = registry

    @classmethod
    def create(cls, db: Database, *, rabbitmq_url: str, amqp_prefix: str = "berth") -> JobClient:
        """A client with Berth's job types (for validation) and its own confirmed publisher."""
        settings = JobserviceSettings(database_url="", rabbitmq_url=rabbitmq_url, amqp_prefix=amqp_prefix)
        return cls(db, Publisher(rabbitmq_url, Topology(amqp_prefix), name="berth-core-jobs"), default_registry(settings))

    def close(self) -> None:
        self.publisher.close()

    # ---------------------------------------------------------------- executions and tasks

    def submit(
        self,
        job_type: str,
        parameters: dict[str, Any],
        *,
        vendor_type: str | None = None,
        vendor_id: int = -1,
        trigger: str = "MANUAL",
        extra_attrs: dict[str, Any] | None = None,
        dedup_key: str | None = None,
    ) -> job_service.Submitted | None:
        return job_service.submit(
            self.db,
            self.publisher,
            self.registry,
            job_type,
            parameters,
            vendor_type=vendor_type,
            vendor_id=vendor_id,
            trigger=trigger,
            extra_attrs=extra_attrs,
            dedup_key=dedup_key,
        )

    def execution(self, execution_id: int) -> Execution | None:
        with self.db.transaction() as cur:
            return executions_db.get(cur, execution_id)

    def executions(
        self, vendor_type: str, vendor_id: int | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[Execution], int]:
        """A page of a vendor's executions (newest first) and the total count."""
        with self.db.transaction() as cur:
            return (
                executions_db.list_by_vendor(cur, vendor_type, vendor_id, limit=limit, offset=offset),
                executions_db.count_by_vendor(cur, vendor_type, vendor_id),
            )

    def execution_metrics(self, execution_id: int) -> Metrics:
        with self.db.transaction() as cur:
            return executions_db.metrics(cur, execution_id)

    def stop_execution(self, execution_id: int) -> Execution | None:
        return job_service.stop_execution(self.db, execution_id)

    def tasks(self, execution_id: int) -> list[Task]:
        with self.db.transaction() as cur:
            return tasks_db.list_for_execution(cur, execution_id)

    def task(self, task_id: int) -> Task | None:
        with self.db.transaction() as cur:
            return tasks_db.get(cur, task_id)

    def task_by_job_id(self, job_id: str) -> Task | None:
        with self.db.transaction() as cur:
            return tasks_db.get_by_job_id(cur, job_id)

    def stop_task(self, task_id: int) -> Task | None:
        return task_service.stop(self.db, task_id)

    def stop_job(self, job_id: str) -> Task | None:
        """Harbor's PUT /jobservice/jobs/{job_id} stop."""
        task = self.task_by_job_id(job_id)
        return None if task is None else task_service.stop(self.db, task.id)

    def task_log(self, task_id: int, max_bytes: int = 10 * 1024 * 1024) -> str | None:
        """The task's log as text (the newest ``max_bytes``); None for an unknown task."""
        with self.db.transaction() as cur:
            if tasks_db.get(cur, task_id) is None:
                return None
            return tasks_db.read_log(cur, task_id, max_bytes)

    # ---------------------------------------------------------------- monitor (Harbor's /jobservice)

    def pools(self) -> list[Pool]:
        with self.db.transaction() as cur:
            return pools_db.list_all(cur)

    def workers(self, pool_id: str = ALL) -> list[Worker] | None:
        """Every slot of one pool (or of all): busy ones with their job; None for an unknown pool."""
        with self.db.transaction() as cur:
            pools = pools_db.list_all(cur) if pool_id == ALL else [p for p in [pools_db.get(cur, pool_id)] if p]
            if pool_id != ALL and not pools:
                return None
            running = tasks_db.running(cur, None if pool_id == ALL else pool_id)
        workers: list[Worker] = []
        for pool in pools:
            busy = [t for t in running if t.lease_owner == pool.pool_id]
            for index in range(max(pool.concurrency, len(busy))):
                worker_id = f"{pool.pool_id}-{index}"
                if index < len(busy):
                    t = busy[index]
                    workers.append(Worker(worker_id, pool.pool_id, t.job_type, t.job_id, t.start_time, t.progress_message, t.update_time))
                else:
                    workers.append(Worker(worker_id, pool.pool_id, "", "", None, "", None))
        return workers

    def queues(self) -> list[JobQueue]:
        """Every known job type with its pending count, latency (seconds) and pause flag."""
        with self.db.transaction() as cur:
            counts = {c.job_type: c for c in tasks_db.pending_counts(cur)}
            paused = queues_db.paused_types(cur)
        names = sorted(set(self.registry.names()) | set(counts))
        queues = []
        for name in names:
            pending = counts.get(name)
            queues.append(JobQueue(name, pending.count if pending else 0, pending.latency_seconds if pending else 0, name in paused))
        return queues

    def queue_action(self, job_type: str, action: str) -> bool:
        """Harbor's PUT /jobservice/queues/{job_type}: ``stop`` (stop its pending jobs), ``pause``,
        ``resume``; job_type ``all`` for every type. False for an unknown job type."""
        if action not in ("stop", "pause", "resume"):
            raise JobParameterError("action must be stop, pause or resume")
        types = self.registry.names() if job_type == ALL else [job_type]
        if job_type != ALL and job_type not in self.registry and job_type != schedule_service.SCHEDULER_JOB_TYPE:
            return False
        if action == "stop":
            with self.db.transaction() as cur:
                pending = tasks_db.pending_ids(cur, None if job_type == ALL else job_type)
            for task in pending:
                task_service.stop(self.db, task.id)
            return True
        with self.db.transaction() as cur:
            for name in types:
                queues_db.set_paused(cur, name, action == "pause")
        return True

    # ---------------------------------------------------------------- schedules

    def schedules(self, *, limit: int = 100, offset: int = 0) -> tuple[list[Schedule], int]:
        with self.db.transaction() as cur:
            return schedules_db.list_all(cur, limit=limit, offset=offset), schedules_db.count(cur)

    def schedule(self, vendor_type: str, vendor_id: int = -1) -> Schedule | None:
        with self.db.transaction() as cur:
            return schedules_db.get_by_vendor(cur, vendor_type, vendor_id)

    def save_schedule(self, **fields: Any) -> Schedule:
        """Create or replace a vendor's schedule; see services.schedules.save for the fields."""
        return schedule_service.save(self.db, self.registry, **fields)

    def delete_schedule(self, vendor_type: str, vendor_id: int = -1) -> bool:
        return schedule_service.delete(self.db, vendor_type, vendor_id)

    def scheduler_paused(self) -> bool:
        return schedule_service.paused(self.db)

    # ---------------------------------------------------------------- webhook policies

    def create_webhook_policy(self, **fields: Any) -> WebhookPolicy:
        return webhook_service.create_policy(self.db, **fields)

    def update_webhook_policy(self, policy_id: int, **fields: Any) -> WebhookPolicy | None:
        return webhook_service.update_policy(self.db, policy_id, **fields)

    def delete_webhook_policy(self, policy_id: int) -> bool:
        with self.db.transaction() as cur:
            return policies_db.delete(cur, policy_id)

    def webhook_policy(self, policy_id: int) -> WebhookPolicy | None:
        with self.db.transaction() as cur:
            return policies_db.get(cur, policy_id)

    def webhook_policies(self, project_id: int, *, limit: int = 100, offset: int = 0) -> tuple[list[WebhookPolicy], int]:
        with self.db.transaction() as cur:
            return (
                policies_db.list_for_project(cur, project_id, limit=limit, offset=offset),
                policies_db.count_for_project(cur, project_id),
            )

    def webhook_last_triggers(self, project_id: int) -> list[webhook_service.LastTrigger]:
        return webhook_service.last_triggers(self.db, project_id)
