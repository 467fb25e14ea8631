"""Event rows for the outbox relay and audit-log rows, written inside the caller's transaction.

Rows go in with COPY: a batch of buffered pulls is thousands of rows a second under load, and
COPY takes them in one round trip without per-row SQL to build (in the registry) or to parse
(in PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg2.extensions

Cursor = psycopg2.extensions.cursor


@dataclasses.dataclass(frozen=True)
class OutboxEvent:
    event_type: str  # PUSH_ARTIFACT, PULL_ARTIFACT, DELETE_ARTIFACT, DELETE_TAG
    ordering_key: str  # the repository name: events of one repository are relayed in order
    payload: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    project_id: int | None
    operation: str  # push, pull, delete
    resource_type: str  # artifact, tag
    resource: str  # repo:tag or repo@digest
    username: str
    client_ip: str
    op_time: dt.datetime  # when it happened (pulls are written up to a second later)


def add_events(cur: Cursor, events: Iterable[OutboxEvent]) -> None:
    _copy(cur, "outbox (event_type, ordering_key, payload)", ((e.event_type, e.ordering_key, json.dumps(dict(e.payload))) for e in events))


def add_audit(cur: Cursor, records: Iterable[AuditRecord]) -> None:
    _copy(
        cur,
        "audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time)",
        ((r.project_id, r.operation, r.resource_type, r.resource[:1024], r.username[:255], r.client_ip[:64], r.op_time) for r in records),
    )


# COPY's text format: tab-separated columns, one row per line, \N for NULL, backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy(cur: Cursor, target: str, rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` into ``target`` (a constant "table (columns)" of this module)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(value) for value in row))
        buffer.write("\n")
    if buffer.tell():
        buffer.seek(0)
        cur.copy_expert(f"COPY {target} FROM STDIN", buffer)


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.translate(_COPY_ESCAPES)
    return text
