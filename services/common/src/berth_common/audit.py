"""Harbor's audit-log switches, shared by the services that write audit records (core and the
registry) and the one that forwards them (the jobservice).

- ``disabled_audit_log_event_types``: comma-separated event types that are not recorded at all,
  in Harbor's names (``create_artifact,pull_artifact,delete_user``) or ours (``push_artifact``).
- ``audit_log_forward_endpoint``: ``host:port`` of a syslog server (TCP). Each record is then
  also written to the outbox as a ``AUDIT_LOG`` event in the same transaction as the change it
  describes, and the jobservice forwards it: nothing is forwarded for a change that rolled back,
  and records wait in the outbox or the queue while the endpoint is down.
- ``skip_audit_log_database``: with an endpoint, records are only forwarded, not stored.

Writers read the switches in the transaction that writes the records (one small query), so a
configuration change applies from the next operation on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

FORWARD_EVENT = "AUDIT_LOG"  # outbox event type (routing key ``audit_log``) of a record to forward
KEYS = ("disabled_audit_log_event_types", "audit_log_forward_endpoint", "skip_audit_log_database")

# Our operation words where Harbor's event types use another (a push creates an artifact).
_HARBOR_OPERATION = {"push": "create"}


def harbor_operation(operation: str) -> str:
    """Harbor's word for an operation (``create`` for a push)."""
    return _HARBOR_OPERATION.get(operation, operation)


def event_type(operation: str, resource_type: str) -> str:
    """Harbor's event type of a record: ``create_artifact`` for a push, ``delete_user``..."""
    return f"{harbor_operation(operation)}_{resource_type}".lower()


def spellings(event_types: list[str] | frozenset[str]) -> list[str]:
    """Each event type in Harbor's name and in ours: ``create_artifact`` is also ``push_artifact``."""
    ours = {harbor: own for own, harbor in _HARBOR_OPERATION.items()}
    found: list[str] = []
    for name in event_types:
        operation, _, resource_type = name.partition("_")
        for spelled in (name, f"{ours[operation]}_{resource_type}" if operation in ours and resource_type else None):
            if spelled and spelled not in found:
                found.append(spelled)
    return found


def parse_event_types(value: str) -> frozenset[str]:
    """The names in a comma-separated list, lower case, blanks ignored."""
    return frozenset(name.strip().lower() for name in value.split(",") if name.strip())


@dataclasses.dataclass(frozen=True)
class AuditPolicy:
    disabled: frozenset[str] = frozenset()
    forward_endpoint: str = ""
    skip_database: bool = False

    def records(self, operation: str, resource_type: str) -> bool:
        """Whether an operation of this kind is recorded at all."""
        if not self.disabled:
            return True
        own = f"{operation}_{resource_type}".lower()
        return own not in self.disabled and event_type(operation, resource_type) not in self.disabled

    @property
    def forwards(self) -> bool:
        return bool(self.forward_endpoint)

    @property
    def stores(self) -> bool:
        """Records go to the database unless they are forwarded and the database is skipped."""
        return not (self.skip_database and self.forwards)


def read_policy(cur: Any) -> AuditPolicy:
    """The switches as stored by core's configuration API (table ``configurations``)."""
    cur.execute("SELECT k, v FROM configurations WHERE k = ANY(%(keys)s)", {"keys": list(KEYS)})
    values = dict(cur.fetchall())
    disabled = values.get("disabled_audit_log_event_types")
    endpoint = values.get("audit_log_forward_endpoint")
    return AuditPolicy(
        disabled=parse_event_types(disabled) if isinstance(disabled, str) else frozenset(),
        forward_endpoint=endpoint.strip() if isinstance(endpoint, str) else "",
        skip_database=values.get("skip_audit_log_database") in (True, "true"),
    )


def forward_payload(
    *,
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    client_ip: str,
    op_time: dt.datetime,
    success: bool = True,
    project_id: int | None = None,
    description: str = "",
) -> dict[str, Any]:
    """The outbox payload of a record to forward (what the forwarder turns into a syslog line)."""
    return {
        "event_type": event_type(operation, resource_type),
        "operation": operation,
        "resource_type": resource_type,
        "resource": resource,
        "username": username,
        "client_ip": client_ip,
        "op_time": op_time.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "success": success,
        "project_id": project_id,
        "description": description,
    }
