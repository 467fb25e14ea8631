"""The event outbox (table in 0001), as the relay reads it: what is safe to publish, and in what order.

Ordering. Events must leave in event_id order per ordering key, but ids are taken when a
producer's INSERT runs, not when it commits: a transaction holding id 10 may commit after the one
holding id 11. So the relay only publishes ids up to a *watermark* below which every id is settled
(committed or rolled back). ``writers_snapshot`` reads the sequence's last value and the
transactions that hold an INSERT lock on the outbox at that moment (an INSERT takes the table's
RowExclusiveLock before its default calls nextval, and keeps it to the end of the transaction);
once all of those have ended, every id up to that value is settled. No producer is ever blocked.
Producers must let the column default assign event_id (no explicit nextval in an earlier
statement) and the sequence must keep CACHE 1 (the default).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from psycopg2.extras import Json

from berth_jobservice.db import fetch_all

_COLUMNS = "event_id, event_type, ordering_key, payload, created_at, published_at"


@dataclasses.dataclass(frozen=True)
class OutboxEvent:
    event_id: int
    event_type: str
    ordering_key: str
    payload: dict[str, Any]
    created_at: dt.datetime
    published_at: dt.datetime | None


def insert(cur: Any, *, event_type: str, ordering_key: str, payload: dict[str, Any]) -> int:
    """Queue an event in the caller's transaction; returns its id."""
    cur.execute(
        "INSERT INTO outbox (event_type, ordering_key, payload) VALUES (%(t)s, %(k)s, %(p)s) RETURNING event_id",
        {"t": event_type, "k": ordering_key, "p": Json(payload)},
    )
    return cur.fetchone()[0]


def writers_snapshot(cur: Any) -> tuple[int, frozenset[str]]:
    """(highest id handed out so far, virtual ids of other transactions that may still insert ≤ it)."""
    cur.execute("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'event_id')::regclass), 0)")
    last = cur.fetchone()[0]
    return last, active_writers(cur)


def active_writers(cur: Any) -> frozenset[str]:
    """Virtual transaction ids of other sessions holding an INSERT-level lock on the outbox."""
    cur.execute(
        """
        SELECT virtualtransaction FROM pg_locks
        WHERE locktype = 'relation' AND relation = 'outbox'::regclass AND mode = 'RowExclusiveLock'
          AND granted AND pid <> pg_backend_pid()
        """
    )
    return frozenset(row[0] for row in cur.fetchall())


def lock_unpublished(cur: Any, up_to: int, limit: int) -> list[OutboxEvent]:
    """The oldest unpublished events with id ≤ ``up_to``, locked until the transaction ends.

    Rows are locked (not skipped) so a second relay waits and then finds them published; skipping
    could let it publish later events of a key first.
    """
    cur.execute(
        f"""
        SELECT {_COLUMNS} FROM outbox
        WHERE published_at IS NULL AND event_id <= %(up_to)s
        ORDER BY event_id LIMIT %(limit)s FOR UPDATE
        """,
        {"up_to": up_to, "limit": limit},
    )
    return fetch_all(cur, OutboxEvent)


def mark_published(cur: Any, event_ids: list[int]) -> None:
    cur.execute("UPDATE outbox SET published_at = now() WHERE event_id = ANY(%(ids)s)", {"ids": list(event_ids)})


def count_unpublished(cur: Any) -> int:
    cur.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return cur.fetchone()[0]
