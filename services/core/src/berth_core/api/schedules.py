"""Harbor's schedule monitor: ``GET /api/v2.0/schedules`` and ``/schedules/{job_type}/paused``.

Every cron (or interval) schedule the jobservice fires, whoever owns it (purge audit, upload
purge, later GC, retention, replication), as Harbor's ``ScheduleTask``; and whether the
scheduler is paused (pausing the SCHEDULER queue through ``/jobservice/queues`` pauses it).
Both need ``jobservice-monitor`` ``list``, as in Harbor.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from berth_core import errors
from berth_core.api.common import harbor_time
from berth_core.api.query import paging_headers, parse_list_params
from berth_core.errors import APIError
from berth_core.services import jobs
from berth_core.services.security import ensure_system
from berth_jobservice.client import ALL
from berth_jobservice.db.schedules import Schedule

bp = Blueprint("schedules", __name__, url_prefix="/api/v2.0")


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    # Interval schedules (e.g. the upload purge every N hours) have no cron; robfig/cron's
    # "@every" form, which Harbor's scheduler also understands, says what they do.
    cron = schedule.cron if schedule.cron is not None else f"@every {schedule.interval_seconds}s"
    return {
        "id": schedule.id,
        "vendor_type": schedule.vendor_type,
        "vendor_id": schedule.vendor_id,
        "cron": cron,
        "update_time": harbor_time(schedule.update_time),
    }


@bp.get("/schedules")
def list_schedules():
    ensure_system("jobservice-monitor", "list")
    params = parse_list_params({}, ())
    items, total = jobs.client().schedules(limit=params.limit, offset=params.offset)
    return jsonify([schedule_json(s) for s in items]), 200, paging_headers(total, params)


@bp.get("/schedules/<job_type>/paused")
def schedule_paused(job_type: str):
    ensure_system("jobservice-monitor", "list")
    if job_type.lower() != ALL:
        raise APIError(errors.BAD_REQUEST, "job_type can only be 'all'")
    return jsonify({"paused": jobs.client().scheduler_paused()})
