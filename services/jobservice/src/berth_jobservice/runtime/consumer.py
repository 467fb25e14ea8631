"""The AMQP consumer of job queues: one connection and channel in its own thread, jobs on a pool.

* One ``basic_consume`` per job type on one channel. The channel-wide prefetch equals ``workers``
  (the pool size), so the broker never hands this process more jobs than it can run; a type
  limited to N concurrent runs also gets a per-consumer prefetch of N.
* Deliveries go straight to the worker pool; the pool thread settles the message through
  ``connection.add_callback_threadsafe`` (pika connections belong to one thread).
* Paused job types (from PostgreSQL, pushed in by the heartbeat) are cancelled and resumed here.
* On any connection failure the thread reconnects with exponential backoff. Messages of the lost
  connection are requeued by the broker; their running jobs finish and record their verdict, and
  their now-stale settle calls are dropped (the redelivery finds the task final and is acked).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Any

import pika
import pika.exceptions
import structlog

from berth_jobservice.jobs.base import JobRegistry
from berth_jobservice.runtime.amqp import AMQP_ERRORS, Backoff, Topology, close_quietly, connection_parameters
from berth_jobservice.runtime.threads import WorkerPool
from berth_jobservice.runtime.worker import Outcome, TaskRunner

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class Delivery:
    tag: int
    generation: int
    job_type: str


class JobConsumer(threading.Thread):
    """Consumes every registered job type's queue; see the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        topology: Topology,
        registry: JobRegistry,
        runner: TaskRunner,
        workers: int,
        name: str,
        reconnect_max_seconds: float = 30.0,
    ) -> None:
        super().__init__(name="job-consumer", daemon=True)
        self._url = url
        self._topology = topology
        self._registry = registry
        self._runner = runner
        self._workers = workers
        self._connection_name = name
        self._reconnect_max_seconds = reconnect_max_seconds
        self._pool = WorkerPool(workers)
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._generation = 0
        self._paused: frozenset[str] = frozenset()
        self._consumers: dict[str, str] = {}
        self._pending_settles: set[Delivery] = set()
        self._inflight = 0
        self._idle = threading.Condition(self._lock)
        self._stop_consuming = threading.Event()
        self._closing = threading.Event()
        self.connected = threading.Event()

    # ------------------------------------------------------------------ control (any thread)

    def set_paused(self, job_types: set[str]) -> None:
        """The job types that must not be consumed; applied by the consumer thread."""
        with self._lock:
            self._paused = frozenset(job_types)

    @property
    def consuming(self) -> set[str]:
        """Job types with an active consumer right now."""
        with self._lock:
            return set(self._consumers)

    @property
    def inflight(self) -> int:
        with self._lock:
            return self._inflight

    def stop_consuming(self) -> None:
        """First step of a shutdown: take no new deliveries; running ones still settle."""
        self._stop_consuming.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no delivery is in flight; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Last step: close the connection (the broker requeues whatever is unsettled) and end the thread."""
        self._stop_consuming.set()
        self._closing.set()
        self.join(timeout)
        self._pool.shutdown()

    # ------------------------------------------------------------------ consumer thread

    def run(self) -> None:
        backoff = Backoff(min(0.5, self._reconnect_max_seconds), self._reconnect_max_seconds)
        while not self._closing.is_set():
            try:
                self._session(backoff)
            except AMQP_ERRORS as exc:
                log.warning("job_consumer_disconnected", error=type(exc).__name__)
            finally:
                self._drop_connection()
            if not self._closing.is_set():
                self._closing.wait(backoff.next())

    def _session(self, backoff: Backoff) -> None:
        connection = pika.BlockingConnection(connection_parameters(self._url, name=self._connection_name))
        backoff.reset()
        channel = connection.channel()
        with self._lock:
            self._connection = connection
            self._channel = channel
            self._generation += 1
            self._consumers = {}
        for job_type in self._registry.names():
            self._topology.declare_job_type(channel, job_type)
        channel.basic_qos(prefetch_count=self._workers, global_qos=True)
        self.connected.set()
        log.info("job_consumer_connected", job_types=self._registry.names())
        while not self._closing.is_set():
            self._apply_consumers(channel)
            connection.process_data_events(time_limit=0.2)
        if connection.is_open:
            connection.close()

    def _apply_consumers(self, channel: Any) -> None:
        with self._lock:
            paused = self._paused
            consumers = dict(self._consumers)
        for job_type in self._registry.names():
            wanted = job_type not in paused and not self._stop_consuming.is_set()
            tag = consumers.get(job_type)
            if tag is not None and not wanted:
                channel.basic_cancel(tag)
                consumers.pop(job_type)
                log.info("job_queue_consumer_cancelled", job_type=job_type, paused=job_type in paused)
            elif tag is None and wanted:
                job = self._registry.get(job_type)
                per_consumer = min(job.max_concurrency or self._workers, self._workers)
                channel.basic_qos(prefetch_count=per_consumer, global_qos=False)
                consumers[job_type] = channel.basic_consume(
                    self._topology.work_queue(job_type),
                    on_message_callback=functools.partial(self._on_message, job_type),
                )
                log.info("job_queue_consumer_started", job_type=job_type)
        with self._lock:
            self._consumers = consumers

    def _on_message(self, job_type: str, _channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        with self._lock:
            delivery = Delivery(method.delivery_tag, self._generation, job_type)
            self._inflight += 1
        self._pool.submit(functools.partial(self._process, delivery, body))

    def _process(self, delivery: Delivery, body: bytes) -> None:
        outcome = Outcome.REQUEUE
        try:
            outcome = self._runner.handle(body)
        finally:
            self._settle(delivery, outcome)

    def _settle(self, delivery: Delivery, outcome: Outcome) -> None:
        """Called on a pool thread: hand the ack/reject to the consumer thread, or drop it if stale.

        A handed-over settle is remembered until it runs; if the connection drops first,
        ``_drop_connection`` counts it as done (the broker requeued that message already).
        """
        with self._lock:
            connection = self._connection
            current = self._generation == delivery.generation and connection is not None and connection.is_open
            if current:
                self._pending_settles.add(delivery)
        if current:
            try:
                connection.add_callback_threadsafe(functools.partial(self._settle_now, delivery, outcome))
                return
            except AMQP_ERRORS:
                with self._lock:
                    current = delivery in self._pending_settles
                    self._pending_settles.discard(delivery)
                if not current:
                    return  # _drop_connection counted it meanwhile
        log.info("delivery_settle_dropped", job_type=delivery.job_type, outcome=outcome.value)
        self._done()

    def _settle_now(self, delivery: Delivery, outcome: Outcome) -> None:
        """Runs on the consumer thread."""
        with self._lock:
            if delivery not in self._pending_settles:
                return  # its connection is gone and it was counted already
            self._pending_settles.discard(delivery)
            channel = self._channel
        try:
            if channel is None or not channel.is_open:
                return
            if outcome is Outcome.ACK:
                channel.basic_ack(delivery.tag)
            elif outcome is Outcome.REJECT:
                channel.basic_reject(delivery.tag, requeue=False)
            else:
                channel.basic_nack(delivery.tag, requeue=True)
        except AMQP_ERRORS as exc:
            log.warning("delivery_settle_failed", error=type(exc).__name__)
        finally:
            self._done()

    def _done(self, count: int = 1) -> None:
        with self._idle:
            self._inflight -= count
            self._idle.notify_all()

    def _drop_connection(self) -> None:
        self.connected.clear()
        with self._lock:
            connection, self._connection, self._channel = self._connection, None, None
            self._consumers = {}
            orphaned, self._pending_settles = len(self._pending_settles), set()
        if orphaned:
            self._done(orphaned)
        close_quietly(connection)
