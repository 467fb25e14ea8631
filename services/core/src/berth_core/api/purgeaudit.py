"""Harbor's audit-log purge, ``/api/v2.0/system/purgeaudit...``: runs, their logs, the schedule.

    GET  /system/purgeaudit               ExecHistory[] of PURGE_AUDIT_LOG runs, newest first
    GET  /system/purgeaudit/{id}          one run          PUT: stop it
    GET  /system/purgeaudit/{id}/log      its log, text/plain
    GET  /system/purgeaudit/schedule      the schedule as ExecHistory (empty body when none)
    POST /system/purgeaudit/schedule      {schedule: {type, cron}, parameters: {...}}    (201)
    PUT  /system/purgeaudit/schedule      same body                                      (200)

Schedule types, as in Harbor: ``Manual`` runs a purge now (the 201 names the run in
``Location``); ``None`` removes the schedule; ``Hourly``, ``Daily``, ``Weekly``, ``Custom`` and
``Schedule`` store a cron of six fields, seconds first (``Hourly``/``Daily``/``Weekly`` default to
Harbor UI's crons when none is given). Parameters: ``audit_retention_hour`` (hours to keep),
``include_operations`` (e.g. ``create,delete,pull``) and/or ``include_event_types`` (e.g.
``create_artifact,delete_artifact``), ``dry_run``; nothing is purged when both lists are empty.

Resource ``purge-audit`` (system admins; system robots when granted): list, read, create,
update, stop, as Harbor checks them. Runs started, stops and schedule changes are audited.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify

from berth_core import errors
from berth_core.api.common import created, get_str, harbor_time, json_body, ok, path_id
from berth_core.api.query import paging_headers, parse_list_params
from berth_core.errors import APIError
from berth_core.services import jobs
from berth_core.services.security import ensure_system
from berth_jobservice.db.executions import Execution
from berth_jobservice.db.schedules import Schedule
from berth_jobservice.jobs.purge_audit import PurgeAuditLogJob

bp = Blueprint("purgeaudit", __name__, url_prefix="/api/v2.0/system/purgeaudit")

RESOURCE = "purge-audit"
JOB_TYPE = PurgeAuditLogJob.name  # also the vendor type of its executions and schedule
AUDIT_TYPE = "purge_audit"

SCHEDULE_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Schedule", "Manual", "None")
# What Harbor's UI sends for its presets (six fields, seconds first).
DEFAULT_CRONS = {"Hourly": "0 0 * * * *", "Daily": "0 0 0 * * *", "Weekly": "0 0 0 * * 0"}
PARAMETER_KEYS = ("audit_retention_hour", "include_operations", "include_event_types", "dry_run")
# A hundred years: far beyond any retention, and well inside PostgreSQL's interval arithmetic.
MAX_RETENTION_HOURS = 876_000
# Read-only fields of Harbor's Schedule model that clients send back.
ECHOED_FIELDS = ("id", "status", "creation_time", "update_time")


# ------------------------------------------------------------------------------------ rendering


def history_json(execution: Execution, parameters: dict[str, Any]) -> dict[str, Any]:
    """Harbor's ExecHistory of one run; ``parameters`` are shown as a JSON string, as Harbor does."""
    return {
        "id": execution.id,
        "job_name": JOB_TYPE,
        "job_kind": execution.trigger,
        "job_parameters": json.dumps(parameters, sort_keys=True),
        "schedule": {"type": execution.trigger},
        "job_status": execution.status,
        "deleted": False,
        "creation_time": harbor_time(execution.start_time),
        "update_time": harbor_time(execution.update_time),
    }


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """The schedule in Harbor's ExecHistory shape (job_kind is the cron, as Harbor answers it)."""
    return {
        "id": schedule.id,
        "job_name": JOB_TYPE,
        "job_kind": schedule.cron or "",
        "job_parameters": json.dumps(schedule.callback_params, sort_keys=True),
        "schedule": {"type": schedule.cron_type, "cron": schedule.cron or "", "next_scheduled_time": harbor_time(schedule.next_run)},
        "job_status": "",
        "deleted": False,
        "creation_time": harbor_time(schedule.creation_time),
        "update_time": harbor_time(schedule.update_time),
    }


def _run_parameters(execution: Execution) -> dict[str, Any]:
    # A scheduled run's execution carries only the schedule's id and slot; the task carries the
    # parameters, and the execution the result (purged count) once the job set it.
    tasks = jobs.client().tasks(execution.id)
    return {**(tasks[0].parameters if tasks else {}), **execution.extra_attrs}


def _load_run(purge_id: str) -> Execution:
    execution = jobs.client().execution(path_id(purge_id, "purge_id"))
    if execution is None or execution.vendor_type != JOB_TYPE:
        raise APIError(errors.NOT_FOUND, f"purge audit execution {purge_id} not found")
    return execution


# ------------------------------------------------------------------------------------ runs


@bp.get("")
def list_runs():
    ensure_system(RESOURCE, "list")
    params = parse_list_params({}, jobs.EXECUTION_SORTABLE)
    runs, total = jobs.execution_page(JOB_TYPE, None, params)
    return jsonify([history_json(run, _run_parameters(run)) for run in runs]), 200, paging_headers(total, params)


@bp.get("/<purge_id>")
def get_run(purge_id: str):
    ensure_system(RESOURCE, "read")
    run = _load_run(purge_id)
    return jsonify(history_json(run, _run_parameters(run)))


@bp.put("/<purge_id>")
def stop_run(purge_id: str):
    ensure_system(RESOURCE, "stop")
    run = _load_run(purge_id)
    jobs.client().stop_execution(run.id)
    jobs.record("stop", AUDIT_TYPE, f"execution {run.id}")
    return ok()


@bp.get("/<purge_id>/log")
def run_log(purge_id: str):
    ensure_system(RESOURCE, "read")
    run = _load_run(purge_id)
    client = jobs.client()
    # One task per purge run; its log is the run's log.
    text = "".join(client.task_log(task.id) or "" for task in client.tasks(run.id))
    return Response(text, mimetype="text/plain")


# ------------------------------------------------------------------------------------ schedule


@bp.get("/schedule")
def get_schedule():
    ensure_system(RESOURCE, "read")
    schedule = jobs.client().schedule(JOB_TYPE)
    if schedule is None:
        # Harbor answers 200 with no body when nothing is scheduled.
        return Response(status=200, mimetype="text/plain")
    return jsonify(schedule_json(schedule))


@bp.post("/schedule")
def create_schedule():
    ensure_system(RESOURCE, "create")
    return _apply_schedule(*_schedule_request(), creating=True)


@bp.put("/schedule")
def update_schedule():
    ensure_system(RESOURCE, "update")
    return _apply_schedule(*_schedule_request(), creating=False)


def _schedule_request() -> tuple[str, str | None, dict[str, Any]]:
    """(type, cron or None, parameters) of a Schedule body; 400 on anything malformed.

    The parameters' values are checked by the job itself (JobParameterError → 400).
    """
    body = json_body(("schedule", "parameters"), allow_unknown=ECHOED_FIELDS)
    schedule = body.get("schedule")
    if not isinstance(schedule, dict):
        raise APIError(errors.BAD_REQUEST, 'schedule is required: {"type": ..., "cron": ...}')
    unknown = sorted(set(schedule) - {"type", "cron", "next_scheduled_time"})
    if unknown:
        raise APIError(errors.BAD_REQUEST, f"unknown schedule field(s): {', '.join(str(u)[:64] for u in unknown[:5])}")
    kind = schedule.get("type")
    if kind not in SCHEDULE_TYPES:
        raise APIError(errors.BAD_REQUEST, f"schedule type must be one of {', '.join(SCHEDULE_TYPES)}")
    cron = (get_str(schedule, "cron", max_length=128) or "").strip() or None
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise APIError(errors.BAD_REQUEST, "parameters must be an object")
    unknown = sorted(set(parameters) - set(PARAMETER_KEYS))
    if unknown:
        raise APIError(
            errors.BAD_REQUEST,
            f"unknown parameter(s) {', '.join(str(u)[:64] for u in unknown[:5])}; supported: {', '.join(PARAMETER_KEYS)}",
        )
    hours = parameters.get("audit_retention_hour")
    if isinstance(hours, int) and not isinstance(hours, bool) and hours > MAX_RETENTION_HOURS:
        raise APIError(errors.BAD_REQUEST, f"audit_retention_hour must be at most {MAX_RETENTION_HOURS}")
    for key in ("include_operations", "include_event_types"):
        if isinstance(parameters.get(key), str) and len(parameters[key]) > 1024:
            raise APIError(errors.BAD_REQUEST, f"{key} must be at most 1024 characters")
    return kind, cron, parameters


def _apply_schedule(kind: str, cron: str | None, parameters: dict[str, Any], *, creating: bool) -> Response:
    client = jobs.client()
    if kind == "Manual":
        # Without a dedup key, submit always creates the run (it returns None only for duplicates).
        submitted = client.submit(JOB_TYPE, parameters, trigger="MANUAL", extra_attrs=parameters)
        run_id = submitted.execution.id
        jobs.record("create", AUDIT_TYPE, f"execution {run_id}", description=f"manual purge {json.dumps(parameters, sort_keys=True)}")
        return created(f"/api/v2.0/system/purgeaudit/{run_id}") if creating else ok()
    if kind == "None":
        if client.delete_schedule(JOB_TYPE):
            jobs.record("delete", AUDIT_TYPE, "schedule")
        return created("/api/v2.0/system/purgeaudit/schedule") if creating else ok()
    cron = cron or DEFAULT_CRONS.get(kind)
    if cron is None:
        raise APIError(errors.BAD_REQUEST, f"a {kind} schedule needs a cron")
    existed = client.schedule(JOB_TYPE) is not None
    saved = client.save_schedule(vendor_type=JOB_TYPE, callback_job_type=JOB_TYPE, callback_params=parameters, cron=cron, cron_type=kind)
    jobs.record(
        "update" if existed else "create",
        AUDIT_TYPE,
        "schedule",
        description=f"{kind} {saved.cron} {json.dumps(parameters, sort_keys=True)}",
    )
    return created("/api/v2.0/system/purgeaudit/schedule") if creating else ok()
