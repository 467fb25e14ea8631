"""The audit forwarder: consumes relayed ``AUDIT_LOG`` events and sends them to the syslog
endpoint the configuration names (``audit_log_forward_endpoint``).

One connection in its own thread, prefetch ``PREFETCH``, manual acks: whatever has arrived is
sent in one write and acked once the write succeeded. While the endpoint is unreachable nothing
is acked: the batch goes back to the queue after a pause that doubles up to ``max_backoff``, so
records wait in RabbitMQ (durable queue, persistent messages) rather than being dropped. A
message lost between a successful write and its ack is sent again (at least once). Messages
that are not outbox envelopes are dead-lettered; records that arrive after forwarding has been
switched off are dropped with a warning (there is nowhere to send them).
"""

from __future__ import annotations

import socket
from typing import Any

import structlog

from berth_common import audit
from berth_common.db import Database
from berth_jobservice.runtime.amqp import Backoff, Topology
from berth_jobservice.runtime.events import EventQueueConsumer
from berth_jobservice.services import webhooks
from berth_jobservice.services.audit_forward import SyslogSender, syslog_line

log = structlog.get_logger(__name__)

PREFETCH = 500


class AuditForwarder(EventQueueConsumer):
    prefetch = PREFETCH
    log_prefix = "audit_forwarder"

    def __init__(
        self,
        *,
        url: str,
        topology: Topology,
        db: Database,
        name: str,
        reconnect_max_seconds: float = 30.0,
        max_backoff: float = 30.0,
    ) -> None:
        super().__init__(
            url=url, topology=topology, db=db, name=name, thread_name="audit-forwarder", reconnect_max_seconds=reconnect_max_seconds
        )
        self._send_backoff = Backoff(min(0.5, max_backoff), max_backoff)
        self._sender = SyslogSender()
        self._hostname = socket.gethostname()

    def queue(self) -> str:
        return self._topology.audit_events_queue

    def declare(self, channel: Any) -> None:
        self._topology.declare_audit_events(channel)

    def close(self, timeout: float = 10.0) -> None:
        super().close(timeout)
        self._sender.close()

    def _handle_batch(self, channel: Any) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        lines: list[bytes] = []
        last = None  # delivery tag of the last valid message: acks and nacks cover up to it
        for tag, body in batch:
            try:
                lines.extend(syslog_line(event["payload"], self._hostname) for event in webhooks.envelopes(body))
                last = tag
            except ValueError as exc:
                log.error("audit_event_invalid", error=str(exc))
                channel.basic_reject(tag, requeue=False)
        if last is None:
            return
        try:
            with self._db.transaction() as cur:
                endpoint = audit.read_policy(cur).forward_endpoint
        except Exception:  # noqa: BLE001 - database trouble: keep the records and try again shortly
            log.exception("audit_forward_failed")
            self._give_back(channel, last)
            return
        if not endpoint:
            log.warning("audit_records_dropped", count=len(lines), reason="audit_log_forward_endpoint is no longer set")
        elif lines:
            try:
                self._sender.send(endpoint, lines)
            except OSError as exc:
                log.warning("audit_forward_failed", error=str(exc), waiting=len(lines))
                self._give_back(channel, last)
                return
        self._send_backoff.reset()
        channel.basic_ack(last, multiple=True)

    def _give_back(self, channel: Any, last_tag: int) -> None:
        """Requeue every unacknowledged record up to ``last_tag`` after a growing pause."""
        self._closing.wait(self._send_backoff.next())
        channel.basic_nack(last_tag, multiple=True, requeue=True)
