"""The background loops of a jobservice process: heartbeat, sweeper, scheduler and event relay.

The scheduler and the relay run in one process at a time: each holds a session advisory lock on
a dedicated connection (:class:`~berth_jobservice.runtime.locks.SessionLock`) and checks before
every round that the connection still answers; standbys try to take the lock every
``leader_retry_seconds``. A leader that dies loses its connection, and so the lock.
"""

from __future__ import annotations

import time

import structlog

from berth_common.db import Database
from berth_jobservice.db import locks as locks_db
from berth_jobservice.db import queues as queues_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs.base import JobRegistry
from berth_jobservice.runtime.amqp import Backoff, Publisher
from berth_jobservice.runtime.consumer import JobConsumer
from berth_jobservice.runtime.locks import SessionLock
from berth_jobservice.runtime.threads import Loop
from berth_jobservice.runtime.worker import TaskRunner
from berth_jobservice.services import pools as pool_service
from berth_jobservice.services import schedules as schedule_service
from berth_jobservice.services import sweeper
from berth_jobservice.services.relay import OutboxRelay

log = structlog.get_logger(__name__)


class Heartbeat(Loop):
    """Keeps this process visible and its work owned.

    Every tick (a third of the lease, at most 2 s): renew the leases of running tasks and pass
    stop requests to their jobs; apply paused queues to the consumer; keep the publisher's idle
    connection alive. Every ``heartbeat_seconds``: refresh the pool row (core's health check and
    the monitor API read it) and prune pools dead for long.
    """

    def __init__(
        self,
        *,
        db: Database,
        runner: TaskRunner,
        consumer: JobConsumer | None,
        publisher: Publisher,
        pool_id: str,
        concurrency: int,
        lease_seconds: float,
        heartbeat_seconds: float,
    ) -> None:
        super().__init__("heartbeat", min(2.0, lease_seconds / 3))
        self.db = db
        self.runner = runner
        self.consumer = consumer
        self.publisher = publisher
        self.pool_id = pool_id
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._last_pool_beat = 0.0

    def tick(self) -> None:
        self.renew_leases()
        if self.consumer is not None:
            with self.db.transaction() as cur:
                self.consumer.set_paused(queues_db.paused_types(cur))
        if time.monotonic() - self._last_pool_beat >= self.heartbeat_seconds:
            pool_service.heartbeat(self.db, self.pool_id, self.concurrency, prune_after_seconds=max(300.0, 10 * self.heartbeat_seconds))
            self._last_pool_beat = time.monotonic()
        self.publisher.keepalive()

    def renew_leases(self) -> None:
        running = self.runner.running()
        if not running:
            return
        with self.db.transaction() as cur:
            alive = tasks_db.renew_leases(cur, self.pool_id, list(running), self.lease_seconds)
        still_running = self.runner.running()  # a task that just finished is not "lost"
        for task_id, ctx in running.items():
            if task_id not in alive:
                if task_id in still_running:
                    log.warning("task_lease_lost", task_id=task_id)
                ctx.lose_lease()
            elif alive[task_id] and not ctx.stop_requested:
                log.info("task_stop_requested", task_id=task_id)
                ctx.request_stop()

    def finish(self) -> None:
        pool_service.unregister(self.db, self.pool_id)


class Sweeper(Loop):
    """Re-publishes unconfirmed tasks and hands out tasks of dead processes (services.sweeper)."""

    def __init__(self, *, db: Database, publisher: Publisher, interval: float, republish_after_seconds: float) -> None:
        super().__init__("sweeper", interval)
        self.db = db
        self.publisher = publisher
        self.republish_after_seconds = republish_after_seconds

    def tick(self) -> None:
        sweeper.sweep(self.db, self.publisher, republish_after_seconds=self.republish_after_seconds)


class LeaderLoop(Loop):
    """A loop whose ``lead()`` runs only while this process holds the advisory lock ``lock_key``."""

    def __init__(self, name: str, *, database_url: str, lock_key: int, interval: float, retry_seconds: float) -> None:
        super().__init__(name, interval)
        self.retry_seconds = retry_seconds
        self._lock = SessionLock(database_url, [lock_key], name=name)

    @property
    def leading(self) -> bool:
        return self._lock.held

    def tick(self) -> float | None:
        if not self._lock.held:
            if not self._lock.try_acquire():
                return self.retry_seconds
            log.info("leader_elected", role=self.name)
        elif not self._lock.alive():
            log.warning("leader_lost", role=self.name)
            return self.retry_seconds
        return self.lead()

    def lead(self) -> float | None:
        raise NotImplementedError

    def finish(self) -> None:
        if self._lock.held:
            log.info("leader_resigned", role=self.name)
        self._lock.release()


class Scheduler(LeaderLoop):
    """Fires due schedules (services.schedules.fire_due) unless the SCHEDULER type is paused."""

    def __init__(
        self, *, db: Database, database_url: str, publisher: Publisher, registry: JobRegistry, interval: float, retry_seconds: float
    ) -> None:
        super().__init__(
            "scheduler",
            database_url=database_url,
            lock_key=locks_db.key(locks_db.SCHEDULER),
            interval=interval,
            retry_seconds=retry_seconds,
        )
        self.db = db
        self.publisher = publisher
        self.registry = registry

    def lead(self) -> None:
        if schedule_service.paused(self.db):
            return
        schedule_service.fire_due(self.db, self.publisher, self.registry)


class Relay(LeaderLoop):
    """Publishes outbox rows (services.relay.OutboxRelay): back-to-back while batches are full,
    backing off while the broker is unreachable."""

    def __init__(
        self, *, relay: OutboxRelay, database_url: str, interval: float, retry_seconds: float, reconnect_max_seconds: float
    ) -> None:
        super().__init__(
            "relay", database_url=database_url, lock_key=locks_db.key(locks_db.RELAY), interval=interval, retry_seconds=retry_seconds
        )
        self.relay = relay
        self._backoff = Backoff(min(interval, reconnect_max_seconds), reconnect_max_seconds)

    def lead(self) -> float | None:
        result = self.relay.tick()
        if result.failed:
            return self._backoff.next()  # the broker is away: the rows wait in the outbox
        self._backoff.reset()
        return 0 if result.more else None
