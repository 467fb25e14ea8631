"""The event relay: outbox rows → the ``<prefix>.events`` topic exchange, in order, at least once.

Guarantees and how:

* **Nothing lost.** A batch of rows is published as one AMQP transaction and stamped
  ``published_at`` only after the broker committed it (every message on disk). While RabbitMQ is
  down, rows simply wait; the relay retries every tick.
* **In order per ordering key.** Rows go out in event_id order, a whole batch or none of it,
  and only up to the *settled watermark* (see :mod:`berth_jobservice.db.outbox`): an id that a
  still-open transaction may yet commit is never overtaken.
* **One relay at a time.** The loop runs only in the replica holding the relay advisory lock;
  the batch rows are also locked (FOR UPDATE, not SKIP LOCKED), so even two relays would
  serialise instead of interleaving.
* **At least once.** A crash between the commit and the stamp publishes those rows again;
  consumers deduplicate by event_id, as the webhook dispatcher does.

Messages: one per run of consecutive events of one type in a batch (a burst of pulls travels
as a few messages, not thousands: each message costs the broker a disk write, a routing and a
delivery, and the consumers a round of work). Routing key = lower-cased event type; body =
``{"events": [{event_id, event_type, ordering_key, created_at, payload}, ...]}`` in event_id
order; message id = ``<first event_id>-<last event_id>``; headers carry the event type and the
number of events. Consumers read messages of one queue in publish order, so the order per
ordering key holds across messages too.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import structlog

from berth_common.db import Database
from berth_jobservice.db import outbox as outbox_db
from berth_jobservice.db.outbox import OutboxEvent
from berth_jobservice.runtime.amqp import EventMessage, Publisher, PublishError

log = structlog.get_logger(__name__)

STALL_WARNING_SECONDS = 30.0


def envelope(event: OutboxEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "ordering_key": event.ordering_key,
        "created_at": event.created_at.isoformat(),
        "payload": event.payload,
    }


def messages(batch: list[OutboxEvent]) -> list[EventMessage]:
    """The batch as messages: one per run of consecutive events of the same type, in order."""
    out = []
    for event_type, same_type in itertools.groupby(batch, key=lambda event: event.event_type):
        run = list(same_type)
        out.append(
            EventMessage(
                message_id=f"{run[0].event_id}-{run[-1].event_id}",
                routing_key=event_type.lower(),
                body=json.dumps({"events": [envelope(event) for event in run]}, separators=(",", ":")).encode(),
                headers={"event_type": event_type, "events": len(run)},
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class RelayRound:
    """What one round did: how many went out, whether the broker failed, whether more is waiting."""

    published: int
    failed: bool
    more: bool


class OutboxRelay:
    """Publishes settled outbox rows; ``tick()`` does one round and says whether more is waiting."""

    def __init__(self, db: Database, publisher: Publisher, *, declare: Callable[[Any], None], batch_size: int = 200) -> None:
        self.db = db
        self.publisher = publisher
        self.declare = declare
        self.batch_size = batch_size
        self._settled = 0
        self._candidate: tuple[int, frozenset[str], float] | None = None

    def advance_watermark(self) -> int:
        """Move the settled watermark forward as far as finished transactions allow; returns it."""
        with self.db.transaction() as cur:
            if self._candidate is not None:
                last, writers, since = self._candidate
                still = writers & outbox_db.active_writers(cur)
                if not still:
                    self._settled = max(self._settled, last)
                    self._candidate = None
                elif time.monotonic() - since > STALL_WARNING_SECONDS:
                    log.warning("outbox_relay_waiting", transactions=sorted(still), waited_s=round(time.monotonic() - since))
                    self._candidate = (last, writers, time.monotonic())
            if self._candidate is None:
                last, writers = outbox_db.writers_snapshot(cur)
                if writers:
                    self._candidate = (last, writers, time.monotonic())
                else:
                    self._settled = max(self._settled, last)
        return self._settled

    def tick(self) -> RelayRound:
        """Publish one batch of settled rows (all of it, or none when the broker fails)."""
        up_to = self.advance_watermark()
        published = 0
        with self.db.transaction() as cur:
            batch = outbox_db.lock_unpublished(cur, up_to, self.batch_size)
            if batch:
                try:
                    self.publisher.publish_events(messages(batch), declare=self.declare)
                except PublishError as exc:
                    log.warning("outbox_publish_failed", first_event_id=batch[0].event_id, count=len(batch), error=str(exc))
                else:
                    outbox_db.mark_published(cur, [event.event_id for event in batch])
                    published = len(batch)
        if published:
            log.info("outbox_published", count=published, last_event_id=batch[-1].event_id)
        return RelayRound(
            published=published,
            failed=published < len(batch),
            more=published == len(batch) == self.batch_size,
        )

