"""The jobservice monitor through core's API (``/api/v2.0/jobservice/...``): pools, workers, job
stop and log, queues with counts, pause/resume/stop of a queue; system admins and system robots
with the ``jobservice-monitor`` grant only; bad input; audit.

Pools, tasks and leases are rows written here through the jobservice's own db functions inside
the test's rolled-back transaction (what a running jobservice writes); the monitor reading a
live jobservice is covered in test_jobservice_api_live.py.
"""

from __future__ import annotations

import os
import uuid

import pytest

from berth_core.services import jobs
from berth_jobservice.db import pools as pools_db
from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs import default_registry
from berth_jobservice.services import jobs as job_service
from berth_jobservice.settings import JobserviceSettings
from support.content import ROLES, CoreWorld, basic, count_rows

API = "/api/v2.0/jobservice"
REGISTRY = default_registry(JobserviceSettings(database_url="", rabbitmq_url=""))


def pending(world: CoreWorld, job_type: str, parameters: dict, count: int = 1):
    """``count`` Pending tasks of ``job_type`` as core's submit leaves them (no message sent)."""
    with world.cursor() as cur:
        return [
            job_service.create_execution(cur, REGISTRY, vendor_type=job_type, tasks=[job_service.TaskSpec(job_type, parameters)]).tasks[0]
            for _ in range(count)
        ]


PURGE = {"audit_retention_hour": 24, "include_operations": "pull", "dry_run": True}


def running_pool(world: CoreWorld, pool_id: str = "host-a:100:abc", concurrency: int = 3):
    """A registered pool running one PURGE_AUDIT_LOG task; returns that task."""
    with world.cursor() as cur:
        pools_db.register(cur, pool_id=pool_id, host="host-a", pid=100, concurrency=concurrency)
    task = pending(world, "PURGE_AUDIT_LOG", PURGE)[0]
    with world.cursor() as cur:
        claimed = tasks_db.claim(cur, task.id, pool_id, 30)
        tasks_db.set_progress(cur, task.id, 40, "4000 of 10000 records purged")
        tasks_db.append_log(cur, task.id, "2024-05-01T10:00:00.000Z [INFO] purge audit log retention_hours=24")
    return claimed


def audited(world: CoreWorld, operation: str, resource_type: str, resource: str) -> int:
    with world.cursor() as cur:
        return count_rows(
            cur,
            "audit_log",
            "operation = %(o)s AND resource_type = %(t)s AND resource = %(r)s AND username = %(u)s",
            {"o": operation, "t": resource_type, "r": resource, "u": world.people["admin"].username},
        )


def test_pools_and_workers(world) -> None:
    task = running_pool(world)
    with world.cursor() as cur:
        pools_db.register(cur, pool_id="host-b:200:def", host="host-b", pid=200, concurrency=1)
    admin = world.headers("admin")
    pools = world.client.get(f"{API}/pools", headers=admin)
    assert pools.status_code == 200
    by_id = {p["worker_pool_id"]: p for p in pools.get_json()}
    assert set(by_id) == {"host-a:100:abc", "host-b:200:def"}
    assert set(by_id["host-a:100:abc"]) == {"pid", "worker_pool_id", "start_at", "heartbeat_at", "concurrency", "host"}
    assert (by_id["host-a:100:abc"]["pid"], by_id["host-a:100:abc"]["host"], by_id["host-a:100:abc"]["concurrency"]) == (100, "host-a", 3)

    workers = world.client.get(f"{API}/pools/host-a:100:abc/workers", headers=admin).get_json()
    assert [w["id"] for w in workers] == ["host-a:100:abc-0", "host-a:100:abc-1", "host-a:100:abc-2"]
    busy, idle = workers[0], workers[1]
    assert (busy["pool_id"], busy["job_name"], busy["job_id"], busy["check_in"]) == (
        "host-a:100:abc", "PURGE_AUDIT_LOG", task.job_id, "4000 of 10000 records purged",
    )  # fmt: skip
    assert busy["start_at"].endswith("Z") and busy["checkin_at"].endswith("Z")
    assert idle == {"id": "host-a:100:abc-1", "pool_id": "host-a:100:abc", "job_name": "", "job_id": "", "check_in": ""}
    every = world.client.get(f"{API}/pools/all/workers", headers=admin).get_json()
    assert len(every) == 4 and {w["pool_id"] for w in every} == {"host-a:100:abc", "host-b:200:def"}
    assert world.client.get(f"{API}/pools/ALL/workers", headers=admin).get_json() == every
    missing = world.client.get(f"{API}/pools/nope/workers", headers=admin)
    assert missing.status_code == 404 and missing.get_json()["errors"][0]["code"] == "NOT_FOUND"


def test_stop_a_job_and_read_its_log(world) -> None:
    running = running_pool(world)
    waiting = pending(world, "PURGE_AUDIT_LOG", PURGE)[0]
    admin = world.headers("admin")

    log = world.client.get(f"{API}/jobs/{running.job_id}/log", headers=admin)
    assert log.status_code == 200 and log.mimetype == "text/plain"
    assert log.get_data(as_text=True) == "2024-05-01T10:00:00.000Z [INFO] purge audit log retention_hours=24\n"
    assert world.client.get(f"{API}/jobs/{waiting.job_id}/log", headers=admin).get_data(as_text=True) == ""

    assert world.client.put(f"{API}/jobs/{waiting.job_id}", headers=admin).status_code == 200
    assert world.client.put(f"{API}/jobs/{running.job_id}", headers=admin).status_code == 200
    with world.cursor() as cur:
        stopped, flagged = tasks_db.get(cur, waiting.id), tasks_db.get(cur, running.id)
    # A pending job ends at once; a running one is told to stop and ends when its job notices.
    assert (stopped.status, stopped.status_message) == ("Stopped", "stopped before it started")
    assert (flagged.status, flagged.stop_requested) == ("Running", True)
    assert audited(world, "stop", "job", waiting.job_id) == 1 and audited(world, "stop", "job", running.job_id) == 1

    for job_id in ("0" * 32, "x" * 200):
        assert world.client.put(f"{API}/jobs/{job_id}", headers=admin).status_code == 404
        assert world.client.get(f"{API}/jobs/{job_id}/log", headers=admin).status_code == 404


def test_stop_all_running_jobs(world) -> None:
    first = running_pool(world)
    second = running_pool(world, "host-c:300:ghi", concurrency=1)
    waiting = pending(world, "PURGE_AUDIT_LOG", PURGE)[0]
    assert world.client.put(f"{API}/jobs/all", headers=world.headers("admin")).status_code == 200
    with world.cursor() as cur:
        assert tasks_db.get(cur, first.id).stop_requested and tasks_db.get(cur, second.id).stop_requested
        assert tasks_db.get(cur, waiting.id).status == "Pending"  # "all" means all running jobs
    assert audited(world, "stop", "job", "all") == 1


def test_queues_counts_pause_resume_stop(world) -> None:
    waiting = pending(world, "PURGE_AUDIT_LOG", PURGE, count=3)
    admin = world.headers("admin")

    def queues() -> dict[str, dict]:
        response = world.client.get(f"{API}/queues", headers=admin)
        assert response.status_code == 200
        return {q["job_type"]: q for q in response.get_json()}

    listed = queues()
    assert set(listed) >= {"PURGE_AUDIT_LOG", "PURGE_UPLOAD", "WEBHOOK"}
    assert set(listed["PURGE_AUDIT_LOG"]) == {"job_type", "count", "latency", "paused"}
    assert (listed["PURGE_AUDIT_LOG"]["count"], listed["PURGE_AUDIT_LOG"]["paused"]) == (3, False)
    assert listed["WEBHOOK"]["count"] == 0 and listed["PURGE_AUDIT_LOG"]["latency"] >= 0

    # Harbor upper-cases the job type.
    assert world.client.put(f"{API}/queues/purge_audit_log", json={"action": "pause"}, headers=admin).status_code == 200
    assert queues()["PURGE_AUDIT_LOG"]["paused"] is True and queues()["WEBHOOK"]["paused"] is False
    assert world.client.put(f"{API}/queues/PURGE_AUDIT_LOG", json={"action": "Resume"}, headers=admin).status_code == 200
    assert queues()["PURGE_AUDIT_LOG"]["paused"] is False
    assert world.client.put(f"{API}/queues/all", json={"action": "pause"}, headers=admin).status_code == 200
    assert all(q["paused"] for q in queues().values())
    assert world.client.put(f"{API}/queues/all", json={"action": "resume"}, headers=admin).status_code == 200

    assert world.client.put(f"{API}/queues/PURGE_AUDIT_LOG", json={"action": "stop"}, headers=admin).status_code == 200
    assert queues()["PURGE_AUDIT_LOG"]["count"] == 0
    with world.cursor() as cur:
        assert {tasks_db.get(cur, t.id).status for t in waiting} == {"Stopped"}
    assert audited(world, "pause", "job_queue", "PURGE_AUDIT_LOG") == 1
    assert audited(world, "resume", "job_queue", "all") == 1
    assert audited(world, "stop", "job_queue", "PURGE_AUDIT_LOG") == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/queues/WEBHOOK", {"action": "explode"}, 400),
        ("/queues/WEBHOOK", {"action": 1}, 400),
        ("/queues/WEBHOOK", {}, 400),
        ("/queues/WEBHOOK", None, 400),
        ("/queues/WEBHOOK", {"action": "pause", "also": 1}, 400),
        ("/queues/NO_SUCH_TYPE", {"action": "pause"}, 404),
        ("/queues/" + "A" * 100, {"action": "stop"}, 404),
    ],
)
def test_queue_action_bad_input(world, path: str, body, status: int) -> None:
    response = world.client.put(f"{API}{path}", json=body, headers=world.headers("admin"))
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["code"] == {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status]


ENDPOINTS = [
    ("get", "/pools", "list"),
    ("get", "/pools/all/workers", "list"),
    ("put", "/jobs/{job_id}", "stop"),
    ("get", "/jobs/{job_id}/log", "list"),
    ("get", "/queues", "list"),
    ("put", "/queues/WEBHOOK", "stop"),
]


@pytest.mark.parametrize("who", ROLES)
def test_only_system_admins(world, who: str) -> None:
    task = pending(world, "PURGE_AUDIT_LOG", PURGE)[0]
    for method, suffix, _ in ENDPOINTS:
        response = getattr(world.client, method)(
            f"{API}{suffix.format(job_id=task.job_id)}", json={"action": "pause"} if method == "put" else None, headers=world.headers(who)
        )
        expected = 200 if who == "admin" else 401 if who == "anonymous" else 403
        assert response.status_code == expected, (method, suffix)


def system_robot(world: CoreWorld, name: str, *actions: str) -> dict[str, str]:
    body = {
        "name": name,
        "level": "system",
        "duration": -1,
        "permissions": [{"kind": "system", "namespace": "/", "access": [{"resource": "jobservice-monitor", "action": a} for a in actions]}],
    }
    response = world.client.post("/api/v2.0/robots", json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    robot = response.get_json()
    return basic(robot["name"], robot["secret"])


def test_system_robots_hold_what_they_were_granted(world) -> None:
    task = pending(world, "PURGE_AUDIT_LOG", PURGE)[0]
    reader = system_robot(world, "monitor", "list")
    operator = system_robot(world, "operator", "list", "stop")
    for method, suffix, action in ENDPOINTS:
        url = f"{API}{suffix.format(job_id=task.job_id)}"
        body = {"action": "pause"} if method == "put" else None
        assert getattr(world.client, method)(url, json=body, headers=reader).status_code == (200 if action == "list" else 403), suffix
        assert getattr(world.client, method)(url, json=body, headers=operator).status_code == 200, suffix


def test_one_client_per_process_made_on_first_use(world, rabbitmq_url, monkeypatch) -> None:
    """gunicorn forks after create_app: no client (and no AMQP connection) may exist before the
    first request of a process, and a process never uses a client its parent made."""
    holder = jobs.Jobs(world.db, rabbitmq_url, f"coretest{uuid.uuid4().hex[:10]}")
    assert holder._client is None
    first = holder.client
    assert holder.client is first
    assert first.publisher._connection is None  # connected on the first publish, not before
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a forked worker
    assert holder.client is not first
    holder.close()
