"""The audit log: one ``record`` call per operation worth remembering, and the queries behind
``/api/v2.0/audit-logs`` and ``/api/v2.0/projects/{p}/logs``.

``record`` takes the caller's cursor on purpose: the entry is written in the same transaction
as the change it describes, so a change is never committed without its audit row and a failed
change leaves no misleading entry (unless the caller records the failure explicitly with
``success=False``). Harbor's audit switches (:mod:`berth_common.audit`) decide whether the entry
is written at all, stored, and/or queued in the outbox for forwarding to a syslog endpoint.
"""

from __future__ import annotations

import datetime as dt

from berth_common import audit as audit_policy
from berth_common.db import Database
from berth_core.api.query import ListParams
from berth_core.db import audit as audit_db
from berth_core.db import content as content_db
from berth_core.db.audit import AuditEntry
from berth_core.db.projects import Project
from berth_core.services import security
from berth_core.services.security import SecurityContext

# Column widths of audit_log (0001_initial.sql). Values are clipped rather than rejected: an
# over-long resource name must never make the operation it describes fail.
_MAX_OPERATION = 50
_MAX_RESOURCE_TYPE = 255
_MAX_RESOURCE = 1024
_MAX_USERNAME = 255
_MAX_CLIENT_IP = 64


def record(
    cur,
    *,
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    project_id: int | None = None,
    client_ip: str = "",
    success: bool = True,
    description: str = "",
) -> int | None:
    """Write one audit entry in the caller's transaction; its id, or None when not stored.

    ``operation`` uses Harbor's words (``create``, ``update``, ``delete``, ``push``, ``pull``,
    ``login``...), ``resource_type`` Harbor's resource names (``project``, ``repository``,
    ``artifact``, ``tag``, ``user``, ``robot``...), ``resource`` the human-readable name
    (``library/hello:latest``, ``library/hello@sha256:...``). ``project_id`` ties the entry to a
    project so it shows in that project's log.
    """
    policy = audit_policy.read_policy(cur)
    if not policy.records(operation, resource_type):
        return None
    entry = {
        "operation": operation[:_MAX_OPERATION],
        "resource_type": resource_type[:_MAX_RESOURCE_TYPE],
        "resource": resource[:_MAX_RESOURCE],
        "username": username[:_MAX_USERNAME],
        "project_id": project_id,
        "client_ip": (client_ip or "")[:_MAX_CLIENT_IP],
        "success": success,
        "description": description or "",
    }
    if policy.forwards:
        payload = audit_policy.forward_payload(**entry, op_time=dt.datetime.now(dt.UTC))
        content_db.add_event(cur, event_type=audit_policy.FORWARD_EVENT, ordering_key="audit", payload=payload)
    return audit_db.insert(cur, **entry) if policy.stores else None


def record_change(
    cur,
    sec: SecurityContext,
    operation: str,
    resource_type: str,
    resource: str,
    *,
    project_id: int | None = None,
    client_ip: str = "",
    description: str = "",
) -> int | None:
    """:func:`record` a change made through the API by the caller ``sec`` (anonymous: no name)."""
    return record(
        cur,
        operation=operation,
        resource_type=resource_type,
        resource=resource,
        username=sec.username or "",
        project_id=project_id,
        client_ip=client_ip,
        description=description,
    )


def list_entries(db: Database, sec: SecurityContext, params: ListParams, project: Project | None = None) -> tuple[list[AuditEntry], int]:
    """A page of the entries the caller may read and the total count.

    With ``project`` (the view already checked the "log" "list" permission there): that
    project's entries. Without: everything for system admins; for anyone else, the entries of
    the projects where they may list the log (Harbor: Project Admins), never system-wide ones
    such as logins or user changes. Anonymous callers are refused (401).
    """
    if project is not None:
        project_ids: list[int] | None = [project.project_id]
    elif sec.is_sysadmin:
        project_ids = None
    else:
        if not sec.is_authenticated:
            raise security.deny()
        members = sec.member_project_ids()
        candidates = members if members is not None else _all_project_ids(db)
        project_ids = sorted(pid for pid in candidates if sec.can(pid, "log", "list"))
        if not project_ids:
            return [], 0
    with db.transaction() as cur:
        total = audit_db.count_entries(cur, project_ids=project_ids, params=params)
        return (audit_db.list_entries(cur, project_ids=project_ids, params=params) if total else []), total


def _all_project_ids(db: Database) -> list[int]:
    # A robot granted every project ("*") has no member list; its grants decide per project.
    with db.transaction() as cur:
        return content_db.live_project_ids(cur)
