"""RabbitMQ names, declarations and the confirmed publisher shared by the jobservice and core.

Topology, for prefix ``P`` (setting ``amqp_prefix``, ``berth`` in production; tests use a unique
one and delete what they declared):

    P.jobs.<TYPE>               durable work queue of a job type; rejected messages dead-letter to
                                P.jobs.<TYPE>.dead (exhausted, invalid or unknown tasks)
    P.jobs.<TYPE>.dead          durable dead-letter queue, kept for inspection
    P.jobs.<TYPE>.delay.<ms>    durable delay queue: no consumer, per-queue message TTL <ms>; an
                                expired message dead-letters back to P.jobs.<TYPE> (retries with
                                backoff, and jobs waiting for a concurrency slot)
    P.events                    durable topic exchange of outbox events; routing key = the
                                lower-cased event type (push_artifact, delete_artifact, ...)
    P.events.webhook            durable queue of the webhook dispatcher, bound to P.events

Every message is persistent and published with publisher confirms; job messages are mandatory,
so a missing queue is an error instead of a silent drop. A job message carries only the task id
(the task row is the truth), so publishing one twice is harmless.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pika
import pika.exceptions
import structlog

from berth_common.audit import FORWARD_EVENT as AUDIT_FORWARD_EVENT

log = structlog.get_logger(__name__)

# Everything pika raises when the broker is away, refuses, or drops us mid-way.
AMQP_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPError,
    OSError,
)


def close_quietly(connection: Any) -> None:
    """Close a pika connection if it is still open; a broker that is already gone is no error here."""
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except AMQP_ERRORS:
            pass


@dataclasses.dataclass(frozen=True)
class EventMessage:
    """A message for the events exchange (see :mod:`berth_jobservice.services.relay`)."""

    message_id: str
    routing_key: str
    body: bytes
    headers: dict[str, Any]


class PublishError(RuntimeError):
    """A message could not be published with a confirm (broker down, nack, unroutable)."""


DELAY_QUEUE_GRACE_MS = 10 * 60 * 1000


@dataclasses.dataclass(frozen=True)
class Topology:
    """Queue and exchange names for one prefix."""

    prefix: str = "berth"

    def work_queue(self, job_type: str) -> str:
        return f"{self.prefix}.jobs.{job_type}"

    def dead_queue(self, job_type: str) -> str:
        return f"{self.prefix}.jobs.{job_type}.dead"

    def delay_queue(self, job_type: str, delay_ms: int) -> str:
        return f"{self.prefix}.jobs.{job_type}.delay.{delay_ms}"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def webhook_events_queue(self) -> str:
        return f"{self.prefix}.events.webhook"

    @property
    def webhook_events_dead_queue(self) -> str:
        return f"{self.prefix}.events.webhook.dead"

    @property
    def audit_events_queue(self) -> str:
        return f"{self.prefix}.events.audit"

    @property
    def audit_events_dead_queue(self) -> str:
        return f"{self.prefix}.events.audit.dead"

    def declare_job_type(self, channel: Any, job_type: str) -> None:
        """Declare the work and dead-letter queues of ``job_type`` (idempotent)."""
        channel.queue_declare(self.dead_queue(job_type), durable=True)
        channel.queue_declare(
            self.work_queue(job_type),
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead_queue(job_type)},
        )

    def declare_delay(self, channel: Any, job_type: str, delay_ms: int) -> str:
        """Declare the delay queue of ``job_type`` for ``delay_ms``; returns its name."""
        name = self.delay_queue(job_type, delay_ms)
        channel.queue_declare(
            name,
            durable=True,
            arguments={
                "x-message-ttl": delay_ms,
                # Delay queues are named by their delay, so many can appear; one that nobody has
                # declared for a while (every publish declares it) goes away by itself, and only
                # well after its last message has been dead-lettered back to the work queue.
                "x-expires": 2 * delay_ms + DELAY_QUEUE_GRACE_MS,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.work_queue(job_type),
            },
        )
        return name

    def declare_events(self, channel: Any, webhook_event_types: list[str]) -> None:
        """Declare the events exchange, the webhook dispatcher's queue with its bindings and the
        audit forwarder's queue.

        The relay declares these too, so events published before the first dispatcher starts
        already have a queue to wait in.
        """
        channel.exchange_declare(self.events_exchange, exchange_type="topic", durable=True)
        channel.queue_declare(self.webhook_events_dead_queue, durable=True)
        channel.queue_declare(
            self.webhook_events_queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.webhook_events_dead_queue},
        )
        for event_type in webhook_event_types:
            channel.queue_bind(self.webhook_events_queue, self.events_exchange, routing_key=event_type.lower())
        self.declare_audit_events(channel)

    def declare_audit_events(self, channel: Any) -> None:
        """Declare the events exchange and the audit forwarder's queue, bound to ``audit_log``."""
        channel.exchange_declare(self.events_exchange, exchange_type="topic", durable=True)
        channel.queue_declare(self.audit_events_dead_queue, durable=True)
        channel.queue_declare(
            self.audit_events_queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.audit_events_dead_queue},
        )
        channel.queue_bind(self.audit_events_queue, self.events_exchange, routing_key=AUDIT_FORWARD_EVENT.lower())


def connection_parameters(url: str, *, name: str, heartbeat: int | None = None) -> pika.URLParameters:
    """Parameters that fail fast: one attempt, short socket and blocked-connection timeouts."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.stack_timeout = 10
    params.blocked_connection_timeout = 30
    params.client_properties = {"connection_name": name}
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


def job_message(task_id: int, job_type: str) -> bytes:
    return json.dumps({"task_id": task_id, "job_type": job_type}).encode()


def parse_job_message(body: bytes) -> int:
    """The task id in a job message; raises ValueError for anything else."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    task_id = data.get("task_id") if isinstance(data, dict) else None
    if not isinstance(task_id, int) or isinstance(task_id, bool) or task_id <= 0:
        raise ValueError("no positive integer task_id")
    return task_id


class Backoff:
    """Exponential delays for reconnecting: ``first``, doubling, capped at ``cap``."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Publisher:
    """Publishes persistent messages over one lazily (re)opened connection.

    Task messages go one at a time with publisher confirms. Events (:meth:`publish_events`) go
    in batches, each an AMQP transaction: RabbitMQ answers ``tx.commit-ok`` only once every
    message of the batch is routed and, on durable queues, written to disk (the guarantee a
    confirm gives), so a batch costs one round trip and one disk sync instead of one per event.
    A channel is in one mode or the other, so a publisher made with ``events=True`` publishes
    events only.

    Thread-safe: calls are serialised by a lock (pika connections are not thread-safe). When the
    connection is gone the next call reconnects; a call that still fails raises PublishError and
    the caller decides (the task stays unconfirmed for the sweeper; the relay tries again later).
    """

    def __init__(self, url: str, topology: Topology, *, name: str = "berth-publisher", events: bool = False) -> None:
        self._url = url
        self.topology = topology
        self._name = name
        self._events = events
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._declared: set[str] = set()

    def publish_task(self, job_type: str, task_id: int, *, delay_ms: int = 0) -> None:
        """Queue task ``task_id`` on its job type's queue, or on a delay queue for ``delay_ms``."""
        if self._events:
            raise TypeError("a Publisher made with events=True publishes events only")

        def send(channel: Any) -> None:
            self._declare_once(channel, f"type:{job_type}", lambda: self.topology.declare_job_type(channel, job_type))
            if delay_ms > 0:
                routing_key = self.topology.delay_queue(job_type, delay_ms)
                self._declare_once(channel, routing_key, lambda: self.topology.declare_delay(channel, job_type, delay_ms))
            else:
                routing_key = self.topology.work_queue(job_type)
            channel.basic_publish(
                exchange="",
                routing_key=routing_key,
                body=job_message(task_id, job_type),
                properties=pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=f"task-{task_id}",
                    timestamp=int(time.time()),
                ),
                mandatory=True,
            )

        self._with_channel(send)

    def publish_events(self, events: Sequence[EventMessage], *, declare: Any) -> None:
        """Publish outbox events to the events exchange, all in one transaction: when this returns
        the broker holds every one of them; when it raises, none counts as published (an
        uncommitted transaction dies with its channel). ``declare(channel)`` runs once per connection."""
        if not self._events:
            raise TypeError("events need a Publisher made with events=True")

        def send(channel: Any) -> None:
            self._declare_once(channel, "events", lambda: declare(channel))
            for event in events:
                channel.basic_publish(
                    exchange=self.topology.events_exchange,
                    routing_key=event.routing_key,
                    body=event.body,
                    properties=pika.BasicProperties(
                        content_type="application/json",
                        delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=event.message_id,
                        timestamp=int(time.time()),
                        headers=event.headers,
                    ),
                )
            channel.tx_commit()

        if events:
            self._with_channel(send)

    def keepalive(self) -> None:
        """Let the idle connection answer broker heartbeats; drops it quietly if it is broken."""
        with self._lock:
            if self._connection is None:
                return
            try:
                self._connection.process_data_events(time_limit=0)
            except AMQP_ERRORS:
                self._reset()

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _with_channel(self, send: Any) -> None:
        with self._lock:
            # A connection that sat idle may have been closed by the broker: one fresh retry.
            for attempt in (1, 2):
                try:
                    send(self._open())
                    return
                except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                    raise PublishError(f"broker refused the message: {type(exc).__name__}") from None
                except AMQP_ERRORS as exc:
                    self._reset()
                    if attempt == 2:
                        raise PublishError(f"cannot publish: {_describe(exc)}") from None

    def _open(self) -> Any:
        if self._connection is None or self._connection.is_closed or self._channel is None or self._channel.is_closed:
            self._reset()
            self._connection = pika.BlockingConnection(connection_parameters(self._url, name=self._name))
            self._channel = self._connection.channel()
            if self._events:
                self._channel.tx_select()
            else:
                self._channel.confirm_delivery()
        return self._channel

    def _declare_once(self, channel: Any, key: str, declare: Any) -> None:
        if key not in self._declared:
            declare()
            self._declared.add(key)

    def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        close_quietly(connection)


def _describe(exc: BaseException) -> str:
    # pika's messages can include the URL; keep the class and a credential-free first line.
    text = str(exc).splitlines()[0] if str(exc) else ""
    if "@" in text:
        text = ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
