"""Consumers of the events exchange's queues (:class:`EventQueueConsumer`), and the first of them,
the webhook dispatcher: it consumes relayed outbox events and turns them into WEBHOOK jobs.

One connection in its own thread, prefetch ``PREFETCH``, manual acks: a message (a run of events,
see :mod:`berth_jobservice.services.relay`) is acked after its events' executions are committed
(and their messages published or left to the sweeper). Messages are taken in batches (whatever
has arrived, up to the prefetch): one read of the enabled policies serves the whole batch, so the
many events no policy wants (every pull, typically) cost no query each. Messages that do not
hold outbox envelopes are rejected to ``<prefix>.events.webhook.dead``. A database failure
requeues the rest of the batch after a pause. Redelivered events create nothing twice (dedup
key per event and policy).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pika
import structlog

from berth_common.db import Database
from berth_jobservice.jobs.base import JobRegistry
from berth_jobservice.runtime.amqp import AMQP_ERRORS, Backoff, Publisher, Topology, close_quietly, connection_parameters
from berth_jobservice.services import webhooks

log = structlog.get_logger(__name__)

PREFETCH = 200


class EventQueueConsumer(threading.Thread):
    """One connection in its own thread consuming one events queue with manual acks.

    Deliveries collect in ``_batch`` while pika processes I/O; after each 0.2 s slice the
    subclass's ``_handle_batch`` settles them. On a lost connection the unsettled ones are
    forgotten (the broker redelivers them) and the thread reconnects with a growing pause.
    Subclasses give ``queue``, ``declare``, ``prefetch`` and ``log_prefix``.
    """

    prefetch = 200
    log_prefix = "event_consumer"

    def __init__(self, *, url: str, topology: Topology, db: Database, name: str, thread_name: str, reconnect_max_seconds: float) -> None:
        super().__init__(name=thread_name, daemon=True)
        self._url = url
        self._topology = topology
        self._db = db
        self._connection_name = name
        self._reconnect_max_seconds = reconnect_max_seconds
        self._closing = threading.Event()
        self.connected = threading.Event()
        self._batch: list[tuple[int, bytes]] = []  # (delivery tag, body) received, not yet handled

    def queue(self) -> str:
        raise NotImplementedError

    def declare(self, channel: Any) -> None:
        raise NotImplementedError

    def _handle_batch(self, channel: Any) -> None:
        raise NotImplementedError

    def close(self, timeout: float = 10.0) -> None:
        self._closing.set()
        self.join(timeout)

    def run(self) -> None:
        backoff = Backoff(min(0.5, self._reconnect_max_seconds), self._reconnect_max_seconds)
        while not self._closing.is_set():
            connection = None
            try:
                connection = pika.BlockingConnection(connection_parameters(self._url, name=self._connection_name))
                backoff.reset()
                channel = connection.channel()
                self.declare(channel)
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.basic_consume(self.queue(), on_message_callback=self._on_message)
                self.connected.set()
                log.info(f"{self.log_prefix}_connected")
                while not self._closing.is_set():
                    connection.process_data_events(time_limit=0.2)
                    self._handle_batch(channel)
            except AMQP_ERRORS as exc:
                log.warning(f"{self.log_prefix}_disconnected", error=type(exc).__name__)
            finally:
                self.connected.clear()
                self._batch = []  # their delivery tags died with the channel; the broker redelivers them
                close_quietly(connection)
            if not self._closing.is_set():
                self._closing.wait(backoff.next())

    def _on_message(self, _channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        self._batch.append((method.delivery_tag, body))


class WebhookDispatcher(EventQueueConsumer):
    prefetch = PREFETCH
    log_prefix = "webhook_dispatcher"

    def __init__(
        self,
        *,
        url: str,
        topology: Topology,
        db: Database,
        publisher: Publisher,
        registry: JobRegistry,
        name: str,
        reconnect_max_seconds: float = 30.0,
    ) -> None:
        super().__init__(
            url=url, topology=topology, db=db, name=name, thread_name="webhook-dispatcher", reconnect_max_seconds=reconnect_max_seconds
        )
        self._publisher = publisher
        self._registry = registry

    def queue(self) -> str:
        return self._topology.webhook_events_queue

    def declare(self, channel: Any) -> None:
        self._topology.declare_events(channel, list(webhooks.EVENT_TYPES))

    def _handle_batch(self, channel: Any) -> None:
        """Dispatch what has arrived; acks go out once per run of handled events (``multiple``)."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            subscribed = webhooks.Subscriptions.read(self._db)
        except Exception:  # noqa: BLE001 - database trouble: keep the events and try again shortly
            log.exception("webhook_dispatch_failed")
            self._requeue(channel, batch[-1][0])
            return
        handled = None  # delivery tag of the last handled event not yet acked
        for tag, body in batch:
            try:
                for envelope in webhooks.envelopes(body):
                    webhooks.dispatch(self._db, self._publisher, self._registry, envelope, subscribed)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                log.error("webhook_event_invalid", error=str(exc))
                if handled is not None:
                    channel.basic_ack(handled, multiple=True)
                    handled = None
                channel.basic_reject(tag, requeue=False)
                continue
            except Exception:  # noqa: BLE001 - database trouble: keep the events and try again shortly
                log.exception("webhook_dispatch_failed")
                if handled is not None:
                    channel.basic_ack(handled, multiple=True)
                self._requeue(channel, batch[-1][0])
                return
            handled = tag
        if handled is not None:
            channel.basic_ack(handled, multiple=True)

    def _requeue(self, channel: Any, last_tag: int) -> None:
        """Give back every unacknowledged event up to ``last_tag``, after a pause."""
        time.sleep(1.0)
        channel.basic_nack(last_tag, multiple=True, requeue=True)
