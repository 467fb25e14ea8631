"""The webhook dispatcher: consumes relayed outbox events and turns them into WEBHOOK jobs.

One connection in its own thread, prefetch ``PREFETCH``, manual acks: an event is acked after its
executions are committed (and their messages published or left to the sweeper). Events that are
not outbox envelopes are rejected to ``<prefix>.events.webhook.dead``. A database failure requeues
the event after a pause. Redelivered events create nothing twice (dedup key per event and policy).
"""

from __future__ import annotations

import json
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

PREFETCH = 20


class WebhookDispatcher(threading.Thread):
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
        super().__init__(name="webhook-dispatcher", daemon=True)
        self._url = url
        self._topology = topology
        self._db = db
        self._publisher = publisher
        self._registry = registry
        self._connection_name = name
        self._reconnect_max_seconds = reconnect_max_seconds
        self._closing = threading.Event()
        self.connected = threading.Event()

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
                self._topology.declare_events(channel, list(webhooks.EVENT_TYPES))
                channel.basic_qos(prefetch_count=PREFETCH)
                channel.basic_consume(self._topology.webhook_events_queue, on_message_callback=self._on_message)
                self.connected.set()
                log.info("webhook_dispatcher_connected")
                while not self._closing.is_set():
                    connection.process_data_events(time_limit=0.2)
            except AMQP_ERRORS as exc:
                log.warning("webhook_dispatcher_disconnected", error=type(exc).__name__)
            finally:
                self.connected.clear()
                close_quietly(connection)
            if not self._closing.is_set():
                self._closing.wait(backoff.next())

    def _on_message(self, channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        try:
            envelope = json.loads(body)
            if not isinstance(envelope, dict):
                raise ValueError("not an object")
            webhooks.dispatch(self._db, self._publisher, self._registry, envelope)
        except (ValueError, UnicodeDecodeError) as exc:
            log.error("webhook_event_invalid", error=str(exc))
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        except Exception:  # noqa: BLE001 - database trouble: keep the event and try again shortly
            log.exception("webhook_dispatch_failed")
            time.sleep(1.0)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)
