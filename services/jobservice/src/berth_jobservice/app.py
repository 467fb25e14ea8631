"""The jobservice process assembled from settings: the app factory of a service without HTTP.

``Jobservice(settings)`` builds the clients (database pool, confirmed publisher), the job
registry and every component; ``start()`` registers the pool and starts the threads:

    job-consumer (+ worker pool)   consumes <prefix>.jobs.<TYPE>, runs jobs     every process
    heartbeat                      leases, stop requests, paused queues, pool   every process
    sweeper                        unconfirmed and orphaned tasks               one at a time
    scheduler                      due cron/interval schedules                  one at a time
    relay                          outbox → <prefix>.events                     one at a time
    webhook-dispatcher             events → WEBHOOK jobs                        every process
    audit-forwarder                AUDIT_LOG events → syslog endpoint           every process

``stop()`` is the graceful shutdown SIGTERM triggers: leadership is given up first, no new jobs
are taken, running jobs get ``shutdown_grace_seconds`` to finish, then they are told to stop
(``ctx.stopped()``) and whatever still runs is handed back (rows Pending, messages requeued when
the connection closes) for another process.
"""

from __future__ import annotations

import threading

import structlog

from berth_common.db import Database
from berth_jobservice.jobs import default_registry
from berth_jobservice.jobs.base import JobRegistry
from berth_jobservice.runtime.amqp import Publisher, Topology
from berth_jobservice.runtime.consumer import JobConsumer
from berth_jobservice.runtime.events import WebhookDispatcher
from berth_jobservice.runtime.forwarder import AuditForwarder
from berth_jobservice.runtime.loops import Heartbeat, Relay, Scheduler, Sweeper
from berth_jobservice.runtime.worker import TaskRunner
from berth_jobservice.services import pools as pool_service
from berth_jobservice.services import schedules as schedule_service
from berth_jobservice.services import webhooks
from berth_jobservice.services.relay import OutboxRelay
from berth_jobservice.settings import JobserviceSettings

log = structlog.get_logger(__name__)

PURGE_UPLOAD = "PURGE_UPLOAD"
# After the grace period, jobs told to stop get this long to hand their task back themselves.
STOP_NOTICE_SECONDS = 3.0


def pool_size(settings: JobserviceSettings) -> int:
    """Pooled database connections: the setting, or enough that nothing waits on another.

    A job may hold a transaction while its context opens another (a log line, progress), so each
    worker can need two at once; the loops need seven (heartbeat, sweeper lock + work, scheduler,
    relay, dispatcher, forwarder). Leader and slot locks use connections of their own, outside the pool.
    """
    return settings.db_pool_size or 2 * settings.workers + 7


class Jobservice:
    """One jobservice process; see the module docstring."""

    def __init__(self, settings: JobserviceSettings, *, registry: JobRegistry | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, maxconn=pool_size(settings), application_name="berth-jobservice")
        self.topology = Topology(settings.amqp_prefix)
        self.registry = registry if registry is not None else default_registry(settings)
        self.pool_id = pool_service.new_pool_id()
        self.shutdown_event = threading.Event()
        self.publisher = Publisher(settings.rabbitmq_url, self.topology, name=f"jobservice-{self.pool_id}-publisher")
        self.runner = TaskRunner(
            db=self.db,
            database_url=settings.database_url,
            registry=self.registry,
            publisher=self.publisher,
            owner=self.pool_id,
            lease_seconds=settings.task_lease_seconds,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            busy_requeue_seconds=settings.busy_requeue_seconds,
            shutdown=self.shutdown_event,
        )
        self.consumer = JobConsumer(
            url=settings.rabbitmq_url,
            topology=self.topology,
            registry=self.registry,
            runner=self.runner,
            workers=settings.workers,
            name=f"jobservice-{self.pool_id}-consumer",
            reconnect_max_seconds=settings.amqp_reconnect_max_seconds,
        )
        self.heartbeat = Heartbeat(
            db=self.db,
            runner=self.runner,
            consumer=self.consumer,
            publisher=self.publisher,
            pool_id=self.pool_id,
            concurrency=settings.workers,
            lease_seconds=settings.task_lease_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
        )
        self.sweeper = Sweeper(
            db=self.db,
            publisher=self.publisher,
            interval=settings.sweep_interval_seconds,
            republish_after_seconds=settings.republish_after_seconds,
        )
        self.scheduler = (
            Scheduler(
                db=self.db,
                database_url=settings.database_url,
                publisher=self.publisher,
                registry=self.registry,
                interval=settings.scheduler_interval_seconds,
                retry_seconds=settings.leader_retry_seconds,
            )
            if settings.run_scheduler
            else None
        )
        self.relay = (
            Relay(
                relay=OutboxRelay(
                    self.db,
                    # The relay publishes on its own connection, so a slow broker never delays
                    # job messages and the other way round.
                    Publisher(settings.rabbitmq_url, self.topology, name=f"jobservice-{self.pool_id}-relay", events=True),
                    declare=lambda channel: self.topology.declare_events(channel, list(webhooks.EVENT_TYPES)),
                    batch_size=settings.relay_batch_size,
                ),
                database_url=settings.database_url,
                interval=settings.relay_interval_seconds,
                retry_seconds=settings.leader_retry_seconds,
                reconnect_max_seconds=settings.amqp_reconnect_max_seconds,
            )
            if settings.run_relay
            else None
        )
        self.dispatcher = (
            WebhookDispatcher(
                url=settings.rabbitmq_url,
                topology=self.topology,
                db=self.db,
                publisher=self.publisher,
                registry=self.registry,
                name=f"jobservice-{self.pool_id}-webhooks",
                reconnect_max_seconds=settings.amqp_reconnect_max_seconds,
            )
            if settings.run_webhook_dispatch
            else None
        )
        self.forwarder = AuditForwarder(
            url=settings.rabbitmq_url,
            topology=self.topology,
            db=self.db,
            name=f"jobservice-{self.pool_id}-audit",
            reconnect_max_seconds=settings.amqp_reconnect_max_seconds,
        )
        self._stopped = False

    def start(self) -> None:
        """Register the pool, set up the housekeeping schedules and start every thread."""
        pool_service.register(self.db, self.pool_id, self.settings.workers)
        self.ensure_housekeeping_schedules()
        for thread in (self.consumer, self.heartbeat, self.sweeper, self.scheduler, self.relay, self.dispatcher, self.forwarder):
            if thread is not None:
                thread.start()
        log.info("jobservice_started", pool_id=self.pool_id, workers=self.settings.workers, job_types=self.registry.names())

    def ensure_housekeeping_schedules(self) -> None:
        """The PURGE_UPLOAD schedule follows the upload_purging settings (Harbor's upload_purging)."""
        if PURGE_UPLOAD not in self.registry:
            return
        if self.settings.upload_purging_enabled:
            schedule_service.ensure(
                self.db,
                self.registry,
                vendor_type=PURGE_UPLOAD,
                callback_job_type=PURGE_UPLOAD,
                callback_params={"age_hours": self.settings.upload_purging_age_hours, "dry_run": self.settings.upload_purging_dry_run},
                interval_seconds=self.settings.upload_purging_interval_hours * 3600,
            )
        else:
            schedule_service.delete(self.db, PURGE_UPLOAD)

    def stop(self, grace_seconds: float | None = None) -> None:
        """Graceful shutdown; see the module docstring. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        log.info("jobservice_stopping", pool_id=self.pool_id, running=len(self.runner.running()), grace_seconds=grace)
        for loop in (self.scheduler, self.relay, self.sweeper):
            if loop is not None:
                loop.stop()
        if self.dispatcher is not None:
            self.dispatcher.close()
        self.forwarder.close()
        self.consumer.stop_consuming()
        idle = self.consumer.wait_idle(grace)
        if not idle:
            self.shutdown_event.set()
            idle = self.consumer.wait_idle(STOP_NOTICE_SECONDS)
        if not idle:
            released = self.runner.release_all("requeued: the jobservice shut down before the job finished")
            log.warning("jobservice_released_running_tasks", count=released)
        self.consumer.close()
        self.heartbeat.stop()
        for loop in (self.scheduler, self.relay, self.sweeper, self.heartbeat):
            if loop is not None and loop.is_alive():
                loop.join(10)
        self.publisher.close()
        if self.relay is not None:
            self.relay.relay.publisher.close()
        self.db.close()
        log.info("jobservice_stopped", pool_id=self.pool_id)
