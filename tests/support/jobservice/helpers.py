"""Helpers shared by the jobservice integration tests: polling, broker inspection, settings env."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

import pika

from berth_common.db import Database
from berth_jobservice.db import queues as queues_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.db.tasks import Task
from berth_jobservice.runtime.amqp import Topology
from berth_jobservice.runtime.worker import retry_delay
from berth_jobservice.settings import JobserviceSettings
from support.waiting import wait_until

T = TypeVar("T")


def task(db: Database, task_id: int) -> Task:
    with db.transaction() as cur:
        found = tasks_db.get(cur, task_id)
    assert found is not None
    return found


def wait_status(db: Database, task_id: int, *statuses: str, timeout: float = 15.0) -> Task:
    def reached() -> Task | None:
        current = task(db, task_id)
        return current if current.status in statuses else None

    return wait_until(reached, timeout, f"task {task_id} in {statuses}")


def pause_queue(db: Database, consumer: Any, job_type: str) -> None:
    """Pause ``job_type`` and wait until ``consumer`` has cancelled its consumer.

    It first waits for that consumer to exist: right after a start the consumer is connected
    before it subscribes, and "not consuming" would then be true before the pause took effect.
    """
    wait_until(lambda: job_type in consumer.consuming, 10, f"consumer of {job_type} started")
    with db.transaction() as cur:
        queues_db.set_paused(cur, job_type, True)
    wait_until(lambda: job_type not in consumer.consuming, 10, f"consumer of {job_type} cancelled")


def task_log(db: Database, task_id: int) -> str:
    with db.transaction() as cur:
        return tasks_db.read_log(cur, task_id)


def probe_runs(db: Database, label: str) -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute(
            "SELECT task_id, attempt, pid, started_at, finished_at, outcome FROM probe_runs WHERE label = %s ORDER BY started_at",
            (label,),
        )
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def settings_env(settings: JobserviceSettings) -> dict[str, str]:
    """The JOBSERVICE_* environment that makes ``JobserviceSettings.from_env()`` return ``settings``."""
    env = {}
    for field in dataclasses.fields(settings):
        if "berth" not in field.metadata:
            continue
        value = getattr(settings, field.name)
        env[settings.env_name(field.name)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


@dataclasses.dataclass(frozen=True)
class Message:
    routing_key: str
    properties: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Broker:
    """A channel on the test broker plus the cleanup of everything a test's prefix declared."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.topology = Topology(prefix)
        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self._connection.channel()
        self._settings: list[JobserviceSettings] = []
        self.extra_queues: list[str] = []

    def track(self, settings: JobserviceSettings) -> None:
        self._settings.append(settings)

    def message_count(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def publish_raw(self, queue: str, body: bytes) -> None:
        self.channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))

    def tap_events(self, binding: str = "#") -> str:
        """A queue of our own bound to the events exchange (declared here if needed)."""
        name = f"{self.prefix}.test.tap"
        self.channel.exchange_declare(self.topology.events_exchange, exchange_type="topic", durable=True)
        self.channel.queue_declare(name, durable=True)
        self.channel.queue_bind(name, self.topology.events_exchange, routing_key=binding)
        self.extra_queues.append(name)
        return name

    def drain(self, queue: str) -> list[Message]:
        """Every message waiting in ``queue`` (acked)."""
        out = []
        while True:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append(Message(method.routing_key, properties, body))

    def cleanup(self, job_types: list[str]) -> None:
        delays: set[int] = set()
        for settings in self._settings:
            delays.add(max(1, round(settings.busy_requeue_seconds * 1000)))
            for failures in range(1, 12):
                delays.add(max(1, round(retry_delay(failures, settings.retry_base_seconds, settings.retry_max_seconds) * 1000)))
        channel = self._connection.channel()
        for job_type in job_types:
            for name in (self.topology.work_queue(job_type), self.topology.dead_queue(job_type)):
                channel.queue_delete(name)
            for delay in delays:
                channel.queue_delete(self.topology.delay_queue(job_type, delay))
        for name in (
            self.topology.webhook_events_queue,
            self.topology.webhook_events_dead_queue,
            self.topology.audit_events_queue,
            self.topology.audit_events_dead_queue,
            *self.extra_queues,
        ):
            channel.queue_delete(name)
        channel.exchange_delete(self.topology.events_exchange)
        self._connection.close()
