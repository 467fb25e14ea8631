"""Webhook policies of projects (Harbor's notification_policy)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from psycopg2.extras import Json

from berth_jobservice.db import fetch_all, fetch_one

_COLUMNS = """id, name, description, project_id, targets, event_types, secret, creator, enabled,
              creation_time, update_time"""


@dataclasses.dataclass(frozen=True)
class WebhookPolicy:
    id: int
    name: str
    description: str
    project_id: int
    targets: list[dict[str, Any]]
    event_types: list[str]
    secret: str
    creator: str
    enabled: bool
    creation_time: dt.datetime
    update_time: dt.datetime


def insert(
    cur: Any,
    *,
    name: str,
    project_id: int,
    targets: list[dict[str, Any]],
    event_types: list[str],
    description: str = "",
    secret: str = "",
    creator: str = "",
    enabled: bool = True,
) -> WebhookPolicy:
    cur.execute(
        f"""
        INSERT INTO webhook_policy (name, description, project_id, targets, event_types, secret, creator, enabled)
        VALUES (%(name)s, %(description)s, %(project_id)s, %(targets)s, %(event_types)s, %(secret)s, %(creator)s, %(enabled)s)
        RETURNING {_COLUMNS}
        """,
        {
            "name": name,
            "description": description,
            "project_id": project_id,
            "targets": Json(targets),
            "event_types": list(event_types),
            "secret": secret,
            "creator": creator,
            "enabled": enabled,
        },
    )
    return fetch_one(cur, WebhookPolicy)


def update(
    cur: Any,
    policy_id: int,
    *,
    name: str,
    description: str,
    targets: list[dict[str, Any]],
    event_types: list[str],
    enabled: bool,
    secret: str | None = None,
) -> WebhookPolicy | None:
    """Replace a policy's editable fields; ``secret=None`` keeps the stored secret."""
    cur.execute(
        f"""
        UPDATE webhook_policy
        SET name = %(name)s, description = %(description)s, targets = %(targets)s, event_types = %(event_types)s,
            enabled = %(enabled)s, secret = coalesce(%(secret)s, secret), update_time = now()
        WHERE id = %(id)s
        RETURNING {_COLUMNS}
        """,
        {
            "id": policy_id,
            "name": name,
            "description": description,
            "targets": Json(targets),
            "event_types": list(event_types),
            "enabled": enabled,
            "secret": secret,
        },
    )
    return fetch_one(cur, WebhookPolicy)


def delete(cur: Any, policy_id: int) -> bool:
    cur.execute("DELETE FROM webhook_policy WHERE id = %(id)s", {"id": policy_id})
    return cur.rowcount > 0


def get(cur: Any, policy_id: int) -> WebhookPolicy | None:
    cur.execute(f"SELECT {_COLUMNS} FROM webhook_policy WHERE id = %(id)s", {"id": policy_id})
    return fetch_one(cur, WebhookPolicy)


def list_for_project(cur: Any, project_id: int, *, limit: int = 100, offset: int = 0) -> list[WebhookPolicy]:
    cur.execute(
        f"SELECT {_COLUMNS} FROM webhook_policy WHERE project_id = %(p)s ORDER BY id LIMIT %(limit)s OFFSET %(offset)s",
        {"p": project_id, "limit": limit, "offset": offset},
    )
    return fetch_all(cur, WebhookPolicy)


def count_for_project(cur: Any, project_id: int) -> int:
    cur.execute("SELECT count(*) FROM webhook_policy WHERE project_id = %(p)s", {"p": project_id})
    return cur.fetchone()[0]


def notifications_enabled(cur: Any) -> bool:
    """Harbor's system-wide ``notification_enable`` switch (on unless set to false)."""
    cur.execute("SELECT v FROM configurations WHERE k = 'notification_enable'")
    row = cur.fetchone()
    return row is None or row[0] not in (False, "false")


def subscriptions(cur: Any) -> list[tuple[int, str, list[str]]]:
    """(project id, project name, event types) of every enabled policy of a live project."""
    cur.execute(
        """
        SELECT w.project_id, p.name, w.event_types FROM webhook_policy w
        JOIN projects p ON p.project_id = w.project_id AND NOT p.deleted
        WHERE w.enabled
        """
    )
    return [(row[0], row[1], list(row[2])) for row in cur.fetchall()]


def enabled_for_event(cur: Any, project_id: int, event_type: str) -> list[WebhookPolicy]:
    """The project's enabled policies subscribed to ``event_type``."""
    cur.execute(
        f"""
        SELECT {_COLUMNS} FROM webhook_policy
        WHERE project_id = %(p)s AND enabled AND %(t)s = ANY(event_types) ORDER BY id
        """,
        {"p": project_id, "t": event_type},
    )
    return fetch_all(cur, WebhookPolicy)
