"""Event rows for the outbox relay and audit-log rows, written inside the caller's transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg2.extensions
import psycopg2.extras

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
    rows = [(e.event_type, e.ordering_key, psycopg2.extras.Json(dict(e.payload))) for e in events]
    if rows:
        psycopg2.extras.execute_values(cur, "INSERT INTO outbox (event_type, ordering_key, payload) VALUES %s", rows)


def add_audit(cur: Cursor, records: Iterable[AuditRecord]) -> None:
    rows = [(r.project_id, r.operation, r.resource_type, r.resource[:1024], r.username[:255], r.client_ip[:64], r.op_time) for r in records]
    if rows:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time) VALUES %s",
            rows,
        )
