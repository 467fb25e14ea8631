"""SQL of the audit log (table ``audit_log``): inserting entries and listing them with filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from psycopg2 import sql

from berth_core.api.query import ListParams, SortKey
from berth_core.db import listing


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One audit log row."""

    id: int
    project_id: int | None
    operation: str
    operation_description: str
    operation_result: bool
    resource_type: str
    resource: str
    username: str
    client_ip: str
    op_time: dt.datetime


_COLUMNS = (
    "l.id, l.project_id, l.operation, l.operation_description, l.operation_result, l.resource_type, l.resource, l.username,"
    " l.client_ip, l.op_time"
)


def insert(
    cur,
    *,
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    project_id: int | None,
    client_ip: str,
    success: bool,
    description: str,
) -> int:
    """Insert one entry and return its id."""
    cur.execute(
        """
        INSERT INTO audit_log (project_id, operation, operation_description, operation_result,
                               resource_type, resource, username, client_ip)
        VALUES (%(project_id)s, %(operation)s, %(description)s, %(success)s,
                %(resource_type)s, %(resource)s, %(username)s, %(client_ip)s)
        RETURNING id
        """,
        {
            "project_id": project_id,
            "operation": operation,
            "description": description,
            "success": success,
            "resource_type": resource_type,
            "resource": resource,
            "username": username,
            "client_ip": client_ip,
        },
    )
    return cur.fetchone()[0]


# q/sort keys of the audit log lists and the column behind each.
COLUMNS = {
    "id": sql.SQL("l.id"),
    "operation": sql.SQL("l.operation"),
    "resource": sql.SQL("l.resource"),
    "resource_type": sql.SQL("l.resource_type"),
    "username": sql.SQL("l.username"),
    "op_time": sql.SQL("l.op_time"),
}
DEFAULT_SORT = (SortKey("op_time", True),)


def _scope(project_ids: Sequence[int] | None, params: ListParams) -> tuple[sql.Composable, dict]:
    where, values = listing.where(params.conditions, COLUMNS)
    if project_ids is not None:
        where = sql.SQL("{} AND l.project_id = ANY(%(project_ids)s)").format(where)
        values["project_ids"] = list(project_ids)
    return where, values


def count_entries(cur, *, project_ids: Sequence[int] | None, params: ListParams) -> int:
    """How many entries match; ``project_ids`` None means every entry, project or not."""
    where, values = _scope(project_ids, params)
    cur.execute(sql.SQL("SELECT count(*) FROM audit_log l WHERE {}").format(where), values)
    return cur.fetchone()[0]


def list_entries(cur, *, project_ids: Sequence[int] | None, params: ListParams) -> list[AuditEntry]:
    """One page of entries, newest first unless sorted otherwise."""
    where, values = _scope(project_ids, params)
    page, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT {} FROM audit_log l WHERE {} ORDER BY {} {}").format(
            sql.SQL(_COLUMNS), where, listing.order_by(params.sort, COLUMNS, DEFAULT_SORT, sql.SQL("l.id DESC")), page
        ),
        {**values, **page_values},
    )
    return [AuditEntry(*row) for row in cur.fetchall()]
