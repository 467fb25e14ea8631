"""Harbor's jobservice monitor, ``/api/v2.0/jobservice/...``.

    GET /jobservice/pools                      WorkerPool[]: the running jobservice processes
    GET /jobservice/pools/{pool_id}/workers    Worker[] of one pool ('all': every pool)
    PUT /jobservice/jobs/{job_id}              stop a job ('all': every running job)
    GET /jobservice/jobs/{job_id}/log          the job's log, text/plain
    GET /jobservice/queues                     JobQueue[]: pending count, latency, paused
    PUT /jobservice/queues/{job_type}          {"action": "stop"|"pause"|"resume"} ('all': every type)

As in Harbor, the resource is ``jobservice-monitor``: reading needs ``list``, the PUTs ``stop``;
system admins hold both, system robots when granted. Stops, pauses and resumes are audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from berth_core import errors
from berth_core.api.common import harbor_time, json_body, ok
from berth_core.errors import APIError
from berth_core.services import jobs
from berth_core.services.security import ensure_system
from berth_jobservice.client import ALL, JobQueue, Worker
from berth_jobservice.db.pools import Pool

bp = Blueprint("jobservice", __name__, url_prefix="/api/v2.0/jobservice")

RESOURCE = "jobservice-monitor"
ACTIONS = ("stop", "pause", "resume")
# job_id is a 32-character hex string; anything much longer cannot name a job.
MAX_ID_LENGTH = 64


@bp.before_request
def _guard() -> None:
    ensure_system(RESOURCE, "stop" if request.method == "PUT" else "list")


def pool_json(pool: Pool) -> dict[str, Any]:
    return {
        "pid": pool.pid,
        "worker_pool_id": pool.pool_id,
        "start_at": harbor_time(pool.started_at),
        "heartbeat_at": harbor_time(pool.heartbeat_at),
        "concurrency": pool.concurrency,
        "host": pool.host,
    }


def worker_json(worker: Worker) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": worker.id,
        "pool_id": worker.pool_id,
        "job_name": worker.job_name,
        "job_id": worker.job_id,
        "check_in": worker.check_in,
    }
    # Harbor omits the times of an idle worker (x-omitempty).
    if worker.start_at is not None:
        body["start_at"] = harbor_time(worker.start_at)
    if worker.checkin_at is not None:
        body["checkin_at"] = harbor_time(worker.checkin_at)
    return body


def queue_json(queue: JobQueue) -> dict[str, Any]:
    return {"job_type": queue.job_type, "count": queue.count, "latency": queue.latency, "paused": queue.paused}


def _pool_or_all(value: str) -> str:
    return ALL if value.lower() == ALL else value


def _not_found(what: str, value: str) -> APIError:
    return APIError(errors.NOT_FOUND, f"{what} {value[:MAX_ID_LENGTH]} not found")


@bp.get("/pools")
def list_pools():
    return jsonify([pool_json(p) for p in jobs.client().pools()])


@bp.get("/pools/<pool_id>/workers")
def list_workers(pool_id: str):
    workers = jobs.client().workers(_pool_or_all(pool_id))
    if workers is None:
        raise _not_found("worker pool", pool_id)
    return jsonify([worker_json(w) for w in workers])


@bp.put("/jobs/<job_id>")
def stop_job(job_id: str):
    client = jobs.client()
    if job_id.lower() == ALL:
        running = [w.job_id for w in client.workers(ALL) or [] if w.job_id]
        for running_id in running:
            client.stop_job(running_id)
        jobs.record("stop", "job", ALL, description=f"stopped {len(running)} running job(s)")
        return ok()
    if len(job_id) > MAX_ID_LENGTH or client.stop_job(job_id) is None:
        raise _not_found("job", job_id)
    jobs.record("stop", "job", job_id)
    return ok()


@bp.get("/jobs/<job_id>/log")
def job_log(job_id: str):
    client = jobs.client()
    task = client.task_by_job_id(job_id) if len(job_id) <= MAX_ID_LENGTH else None
    text = client.task_log(task.id) if task is not None else None
    if text is None:
        raise _not_found("job", job_id)
    return Response(text, mimetype="text/plain")


@bp.get("/queues")
def list_queues():
    return jsonify([queue_json(q) for q in jobs.client().queues()])


@bp.put("/queues/<job_type>")
def act_on_queue(job_type: str):
    body = json_body(("action",))
    action = body.get("action")
    if not isinstance(action, str) or action.lower() not in ACTIONS:
        raise APIError(errors.BAD_REQUEST, "action must be stop, pause or resume")
    action = action.lower()
    # Harbor upper-cases the job type (queues are named after WEBHOOK, PURGE_AUDIT_LOG...).
    name = ALL if job_type.lower() == ALL else job_type.upper()
    if len(name) > MAX_ID_LENGTH or not jobs.client().queue_action(name, action):
        raise _not_found("job type", job_type)
    jobs.record(action, "job_queue", name)
    return ok()
