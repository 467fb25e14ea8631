"""The audit log API: ``/api/v2.0/audit-logs``, ``/auditlog-exts`` and their per-project forms.

Filters are Harbor's ``q`` keys (``operation=push``, ``username=~adm``, ``resource=~lib``,
``resource_type=artifact``, ``op_time=[2024-01-01 00:00:00~2024-12-31 00:00:00]``), sorted
newest first unless ``sort`` says otherwise. ``audit-logs`` answers Harbor's ``AuditLog`` model;
``auditlog-exts`` answers ``AuditLogExt`` (adds the description and the result) over the same
rows.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from berth_core.api.common import ext, harbor_time
from berth_core.api.query import ANY, EXACT, FUZZY, RANGE, Field, paging_headers, parse_list_params
from berth_core.db.audit import AuditEntry
from berth_core.db.projects import Project
from berth_core.services import audit
from berth_core.services.security import current_security, require_project

bp = Blueprint("audit", __name__, url_prefix="/api/v2.0")

QUERY_FIELDS = {
    "id": Field("int", frozenset({EXACT, ANY})),
    "operation": Field("str", frozenset({EXACT, FUZZY, ANY})),
    "resource": Field("str", frozenset({EXACT, FUZZY})),
    "resource_type": Field("str", frozenset({EXACT, FUZZY, ANY})),
    "username": Field("str", frozenset({EXACT, FUZZY})),
    "op_time": Field("time", frozenset({RANGE})),
}
SORTABLE = ("id", "op_time", "operation", "resource", "resource_type", "username")


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "username": entry.username,
        "resource": entry.resource,
        "resource_type": entry.resource_type,
        "operation": entry.operation,
        "op_time": harbor_time(entry.op_time),
    }


def entry_ext_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        **entry_json(entry),
        "operation_description": entry.operation_description,
        "operation_result": entry.operation_result,
    }


def _list(render, project: Project | None = None):
    params = parse_list_params(QUERY_FIELDS, SORTABLE)
    entries, total = audit.list_entries(ext("db"), current_security(), params, project)
    return jsonify([render(e) for e in entries]), 200, paging_headers(total, params)


@bp.get("/audit-logs")
def list_audit_logs():
    return _list(entry_json)


@bp.get("/auditlog-exts")
def list_audit_log_exts():
    return _list(entry_ext_json)


@bp.get("/projects/<project_name>/logs")
@require_project("log", "list")
def list_project_logs(project: Project):
    return _list(entry_json, project)


@bp.get("/projects/<project_name>/auditlog-exts")
@require_project("log", "list")
def list_project_log_exts(project: Project):
    return _list(entry_ext_json, project)
