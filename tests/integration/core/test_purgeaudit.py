"""The audit-log purge API through core (``/api/v2.0/system/purgeaudit...``): Harbor's schedule
object (Hourly/Daily/Weekly/Custom/Manual/None), manual runs queued on the real broker, history,
stop, log, bad input, system admins only, audit.

Runs here are queued but not run (the test's transaction is rolled back; no jobservice reads
it); test_jobservice_api_live.py runs purges end to end.
"""

from __future__ import annotations

import json

import pika
import pytest

from berth_jobservice.db import tasks as tasks_db
from berth_jobservice.jobs import default_registry
from berth_jobservice.runtime.amqp import Topology
from berth_jobservice.services import jobs as job_service
from berth_jobservice.settings import JobserviceSettings
from support.content import ROLES, CoreWorld, basic, count_rows
from support.jobservice.helpers import Broker

API = "/api/v2.0/system/purgeaudit"
REGISTRY = default_registry(JobserviceSettings(database_url="", rabbitmq_url=""))
PARAMS = {"audit_retention_hour": 168, "include_operations": "create,delete,pull", "dry_run": True}


@pytest.fixture(scope="module", autouse=True)
def topology(settings, rabbitmq_url):
    """The queues under the module's own prefix (see ``settings``), deleted after its last test."""
    topology = Topology(settings.amqp_prefix)
    yield topology
    Broker(rabbitmq_url, topology.prefix).cleanup([job.name for job in REGISTRY])


def schedule_body(kind: str, cron: str | None = None, parameters: dict | None = None) -> dict:
    schedule = {"type": kind} if cron is None else {"type": kind, "cron": cron}
    return {"schedule": schedule, "parameters": PARAMS if parameters is None else parameters}


def run_now(world: CoreWorld, parameters: dict | None = None) -> int:
    response = world.client.post(f"{API}/schedule", json=schedule_body("Manual", parameters=parameters), headers=world.headers("admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(f"{API}/")
    return int(location.rsplit("/", 1)[1])


def audited(world: CoreWorld, operation: str, resource: str) -> int:
    with world.cursor() as cur:
        return count_rows(
            cur,
            "audit_log",
            "operation = %(o)s AND resource_type = 'purge_audit' AND resource = %(r)s AND username = %(u)s",
            {"o": operation, "r": resource, "u": world.people["admin"].username},
        )


def test_schedule_lifecycle(world) -> None:
    admin = world.headers("admin")
    empty = world.client.get(f"{API}/schedule", headers=admin)
    assert empty.status_code == 200 and empty.get_data() == b""  # Harbor: no body when unscheduled

    created = world.client.post(f"{API}/schedule", json=schedule_body("Hourly"), headers=admin)
    assert created.status_code == 201 and created.headers["Location"] == f"{API}/schedule"
    schedule = world.client.get(f"{API}/schedule", headers=admin).get_json()
    assert set(schedule) == {
        "id", "job_name", "job_kind", "job_parameters", "schedule", "job_status", "deleted", "creation_time", "update_time",
    }  # fmt: skip
    assert schedule["schedule"]["type"] == "Hourly" and schedule["schedule"]["cron"] == "0 0 * * * *"
    assert schedule["schedule"]["next_scheduled_time"].endswith(":00:00.000Z")
    assert (schedule["job_name"], schedule["job_kind"]) == ("PURGE_AUDIT_LOG", "0 0 * * * *")
    assert json.loads(schedule["job_parameters"]) == PARAMS
    assert audited(world, "create", "schedule") == 1

    # Harbor's UI sends the cron with the preset; Custom takes any six-field cron.
    other = {"audit_retention_hour": 24, "include_event_types": "pull_artifact", "dry_run": False}
    updated = world.client.put(f"{API}/schedule", json=schedule_body("Custom", "0 30 2 * * *", other), headers=admin)
    assert updated.status_code == 200, updated.get_data(as_text=True)
    schedule = world.client.get(f"{API}/schedule", headers=admin).get_json()
    assert (schedule["schedule"]["type"], schedule["schedule"]["cron"]) == ("Custom", "0 30 2 * * *")
    assert schedule["schedule"]["next_scheduled_time"].endswith("T02:30:00.000Z")
    assert json.loads(schedule["job_parameters"]) == other
    assert audited(world, "update", "schedule") == 1
    listed = world.client.get("/api/v2.0/schedules", headers=admin).get_json()
    assert [(s["vendor_type"], s["cron"]) for s in listed] == [("PURGE_AUDIT_LOG", "0 30 2 * * *")]

    assert world.client.put(f"{API}/schedule", json=schedule_body("Weekly"), headers=admin).status_code == 200
    assert world.client.get(f"{API}/schedule", headers=admin).get_json()["schedule"]["cron"] == "0 0 0 * * 0"
    assert world.client.post(f"{API}/schedule", json={"schedule": {"type": "None"}}, headers=admin).status_code == 201
    assert world.client.get(f"{API}/schedule", headers=admin).get_data() == b""
    assert audited(world, "delete", "schedule") == 1
    # Removing what is not there is fine, and not audited twice.
    assert world.client.put(f"{API}/schedule", json={"schedule": {"type": "None"}}, headers=admin).status_code == 200
    assert audited(world, "delete", "schedule") == 1


def test_manual_run_is_queued_and_listed(world, topology, rabbitmq_url) -> None:
    run_id = run_now(world)
    admin = world.headers("admin")
    run = world.client.get(f"{API}/{run_id}", headers=admin)
    assert run.status_code == 200
    body = run.get_json()
    assert (body["id"], body["job_name"], body["job_kind"], body["schedule"], body["job_status"], body["deleted"]) == (
        run_id, "PURGE_AUDIT_LOG", "MANUAL", {"type": "MANUAL"}, "Running", False,
    )  # fmt: skip
    assert json.loads(body["job_parameters"]) == PARAMS
    assert audited(world, "create", f"execution {run_id}") == 1

    # The task's message went to the broker under this app's prefix, with a publisher confirm.
    with world.cursor() as cur:
        cur.execute("SELECT id FROM task WHERE execution_id = %s", (run_id,))
        task = tasks_db.get(cur, cur.fetchone()[0])
    assert task.status == "Pending" and task.enqueued_at is not None and task.parameters == PARAMS
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        queued = connection.channel().queue_declare(topology.work_queue("PURGE_AUDIT_LOG"), passive=True).method.message_count
    finally:
        connection.close()
    assert queued >= 1

    listed = world.client.get(API, headers=admin)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert listed.get_json() == [body]
    log = world.client.get(f"{API}/{run_id}/log", headers=admin)
    assert log.status_code == 200 and log.mimetype == "text/plain" and log.get_data() == b""

    assert world.client.put(f"{API}/{run_id}", headers=admin).status_code == 200
    assert world.client.get(f"{API}/{run_id}", headers=admin).get_json()["job_status"] == "Stopped"
    assert audited(world, "stop", f"execution {run_id}") == 1


def test_history_order_and_paging(world) -> None:
    runs = [run_now(world, {**PARAMS, "audit_retention_hour": hours}) for hours in (1, 2, 3)]
    admin = world.headers("admin")

    def ids(query: str) -> list[int]:
        response = world.client.get(f"{API}?{query}", headers=admin)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["X-Total-Count"] == "3"
        return [run["id"] for run in response.get_json()]

    assert ids("") == runs[::-1]
    assert ids("sort=-creation_time") == runs[::-1]
    assert ids("sort=id") == runs
    assert ids("sort=creation_time&page=2&page_size=2") == runs[2:]
    assert ids("sort=-id&page=2&page_size=2") == runs[:1]
    assert ids("sort=id&page=5&page_size=2") == []
    for query in ("sort=update_time", "sort=id,-id", "q=job_status=Error", "page_size=0"):
        assert world.client.get(f"{API}?{query}", headers=admin).status_code == 400, query


BAD_SCHEDULES = [
    ({}, "schedule"),
    ({"schedule": "Hourly"}, "schedule"),
    ({"schedule": {"type": "Yearly"}}, "schedule type"),
    ({"schedule": {"type": "manual"}}, "schedule type"),
    ({"schedule": {"type": "Custom"}}, "needs a cron"),
    ({"schedule": {"type": "Custom", "cron": "61 * * * * *"}}, "cron"),
    ({"schedule": {"type": "Custom", "cron": "every day"}}, "cron"),
    ({"schedule": {"type": "Hourly", "cron": 5}}, "cron"),
    ({"schedule": {"type": "Hourly", "when": "now"}}, "unknown schedule field"),
    ({"schedule": {"type": "Hourly"}, "parameters": ["a"]}, "parameters"),
    ({"schedule": {"type": "Hourly"}, "parameters": {**PARAMS, "workers": 2}}, "unknown parameter"),
    ({"schedule": {"type": "Hourly"}, "parameters": {**PARAMS, "audit_retention_hour": 0}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "audit_retention_hour": -5}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "audit_retention_hour": "168"}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "audit_retention_hour": 1.5}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "audit_retention_hour": 10**9}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {"dry_run": True}}, "audit_retention_hour"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "dry_run": "yes"}}, "dry_run"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "include_operations": 5}}, "include_operations"),
    ({"schedule": {"type": "Manual"}, "parameters": {**PARAMS, "include_event_types": "x" * 2000}}, "include_event_types"),
    ({"schedule": {"type": "Hourly"}, "extra": 1}, "unknown field"),
]


@pytest.mark.parametrize(("body", "message"), BAD_SCHEDULES)
def test_bad_schedule_requests_are_400s(world, body: dict, message: str) -> None:
    for method in ("post", "put"):
        response = getattr(world.client, method)(f"{API}/schedule", json=body, headers=world.headers("admin"))
        assert response.status_code == 400, (method, response.get_data(as_text=True))
        error = response.get_json()["errors"][0]
        assert error["code"] == "BAD_REQUEST" and message in error["message"], error
    with world.cursor() as cur:
        assert count_rows(cur, "execution", "vendor_type = 'PURGE_AUDIT_LOG'") == 0
        assert count_rows(cur, "schedule", "vendor_type = 'PURGE_AUDIT_LOG'") == 0


def test_read_only_fields_may_be_sent_back(world) -> None:
    admin = world.headers("admin")
    body = {**schedule_body("Daily"), "id": 3, "status": "", "creation_time": "2024-01-01T00:00:00Z", "update_time": "x"}
    assert world.client.post(f"{API}/schedule", json=body, headers=admin).status_code == 201
    assert world.client.get(f"{API}/schedule", headers=admin).get_json()["schedule"]["cron"] == "0 0 0 * * *"


def test_unknown_and_foreign_ids(world) -> None:
    admin = world.headers("admin")
    assert world.client.get(f"{API}/abc", headers=admin).status_code == 400
    assert world.client.get(f"{API}/0", headers=admin).status_code == 400
    assert world.client.get(f"{API}/99999999", headers=admin).status_code == 404
    assert world.client.put(f"{API}/99999999", headers=admin).status_code == 404
    assert world.client.get(f"{API}/99999999/log", headers=admin).status_code == 404
    # An execution of another vendor is not a purge run.
    with world.cursor() as cur:
        other = job_service.create_execution(
            cur, REGISTRY, vendor_type="PURGE_UPLOAD", tasks=[job_service.TaskSpec("PURGE_UPLOAD", {"age_hours": 1})]
        )
    for method, suffix in (("get", ""), ("put", ""), ("get", "/log")):
        assert getattr(world.client, method)(f"{API}/{other.execution.id}{suffix}", headers=admin).status_code == 404
    assert world.client.delete(f"{API}/schedule", headers=admin).status_code == 405


ENDPOINTS = [
    ("get", "", "list"),
    ("get", "/{id}", "read"),
    ("get", "/{id}/log", "read"),
    ("put", "/{id}", "stop"),
    ("get", "/schedule", "read"),
    ("post", "/schedule", "create"),
    ("put", "/schedule", "update"),
]


@pytest.mark.parametrize("who", ROLES)
def test_only_system_admins(world, who: str) -> None:
    run_id = run_now(world)
    for method, suffix, _ in ENDPOINTS:
        body = schedule_body("Daily") if method in ("post", "put") and "schedule" in suffix else None
        response = getattr(world.client, method)(f"{API}{suffix.format(id=run_id)}", json=body, headers=world.headers(who))
        expected = ({"post": 201}.get(method, 200)) if who == "admin" else 401 if who == "anonymous" else 403
        assert response.status_code == expected, (method, suffix, response.get_data(as_text=True))


def test_system_robot_grants(world) -> None:
    run_id = run_now(world)
    body = {
        "name": "purger",
        "level": "system",
        "duration": -1,
        "permissions": [
            {"kind": "system", "namespace": "/", "access": [{"resource": "purge-audit", "action": a} for a in ("list", "read")]}
        ],
    }
    response = world.client.post("/api/v2.0/robots", json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    robot = response.get_json()
    auth = basic(robot["name"], robot["secret"])
    assert world.client.get(API, headers=auth).status_code == 200
    assert world.client.get(f"{API}/{run_id}/log", headers=auth).status_code == 200
    assert world.client.put(f"{API}/{run_id}", headers=auth).status_code == 403
    assert world.client.post(f"{API}/schedule", json=schedule_body("Manual"), headers=auth).status_code == 403
