"""Core's job endpoints against a running jobservice: what the API queues really runs, and what
the jobservice records is what the API shows.

One module-wide setup: a migrated database of its own (the jobservice reads committed rows, so
these tests commit), an in-process jobservice (``berth_jobservice.app.Jobservice``) and a core
app with its own connection pool, both on a queue prefix of this module that is deleted
afterwards. Covered: a manual purge (dry run, then for real) with its history and log; a webhook
delivered to a real receiver, signed, with its execution, task and log through the API; the
monitor showing the live pool, and a paused queue holding a job until it is resumed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest

from berth_common.db import Database
from berth_core.app import create_app
from berth_core.services import audit
from berth_deploy import infra
from berth_jobservice.app import Jobservice
from berth_jobservice.db import outbox as outbox_db
from berth_jobservice.services import webhooks
from berth_jobservice.settings import JobserviceSettings
from berth_migrations.runner import migrate
from support.content import basic, core_settings
from support.jobservice.helpers import Broker, wait_until
from support.webhook_receiver import WebhookReceiver

ADMIN = basic("admin", "Harbor12345")
SECRET = "live-test-signing-secret"


@pytest.fixture(scope="module")
def live_db_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"berth_corejobs_{uuid.uuid4().hex[:10]}"
    url = infra.ensure_database(postgres_admin_url, name)
    try:
        migrate(url, log=lambda _msg: None)
        yield url
    finally:
        infra.drop_database(postgres_admin_url, name)


@pytest.fixture(scope="module")
def jobservice(live_db_url: str, rabbitmq_url: str) -> Iterator[Jobservice]:
    settings = JobserviceSettings.from_env(
        {},
        database_url=live_db_url,
        rabbitmq_url=rabbitmq_url,
        amqp_prefix=f"corelive{uuid.uuid4().hex[:10]}",
        workers=2,
        heartbeat_seconds=1,
        sweep_interval_seconds=0.3,
        republish_after_seconds=1.0,
        retry_base_seconds=0.2,
        retry_max_seconds=1.0,
        busy_requeue_seconds=0.1,
        shutdown_grace_seconds=2.0,
        scheduler_interval_seconds=0.2,
        relay_interval_seconds=0.1,
        leader_retry_seconds=0.3,
        upload_purging_enabled=False,
    )
    service = Jobservice(settings)
    service.start()
    try:
        wait_until(service.consumer.connected.is_set, 10, "job consumer connected")
        wait_until(service.dispatcher.connected.is_set, 10, "webhook dispatcher connected")
        yield service
    finally:
        service.stop(grace_seconds=0)
        # Everything the prefix declared: work, dead and delay queues, the events exchange and queue.
        broker = Broker(settings.rabbitmq_url, settings.amqp_prefix)
        broker.track(settings)
        broker.cleanup([job.name for job in service.registry])


@pytest.fixture(scope="module")
def core(tmp_path_factory, live_db_url: str, rabbitmq_url: str, jobservice: Jobservice):
    """A test client of a core app with a real pool on the live database, on the jobservice's prefix."""
    settings = core_settings(
        tmp_path_factory.mktemp("keys"), live_db_url, rabbitmq_url=rabbitmq_url, amqp_prefix=jobservice.settings.amqp_prefix
    )
    app = create_app(settings)
    yield app.test_client()
    app.extensions["berth.jobs"].close()
    app.extensions["berth.db"].close()


@pytest.fixture(scope="module")
def live_db(live_db_url: str) -> Iterator[Database]:
    db = Database(live_db_url, maxconn=2, application_name="berth-core-live-tests")
    yield db
    db.close()


def purge_run(core, run_id: int, *statuses: str) -> dict:
    """The run once its job_status is one of ``statuses``."""

    def reached() -> dict | None:
        run = core.get(f"/api/v2.0/system/purgeaudit/{run_id}", headers=ADMIN).get_json()
        return run if run["job_status"] in statuses else None

    return wait_until(reached, 20.0, f"purge {run_id} in {statuses}")


def start_purge(core, **parameters) -> int:
    body = {"schedule": {"type": "Manual"}, "parameters": parameters}
    response = core.post("/api/v2.0/system/purgeaudit/schedule", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_manual_purge_dry_run_then_for_real(core, live_db) -> None:
    marker = uuid.uuid4().hex
    with live_db.transaction() as cur:
        for operation, age_hours in (("pull", 500), ("pull", 400), ("create", 450), ("pull", 1)):
            entry = audit.record(cur, operation=operation, resource_type="artifact", resource=f"{marker}/app", username="alice")
            cur.execute("UPDATE audit_log SET op_time = now() - make_interval(hours => %s) WHERE id = %s", (age_hours, entry))

    def kept() -> list[tuple[str, int]]:
        with live_db.transaction() as cur:
            cur.execute(
                "SELECT operation, round(extract(epoch FROM now() - op_time) / 3600)::int FROM audit_log WHERE resource = %s ORDER BY 2",
                (f"{marker}/app",),
            )
            return cur.fetchall()

    dry = start_purge(core, audit_retention_hour=168, include_operations="pull", dry_run=True)
    run = purge_run(core, dry, "Success", "Error")
    assert run["job_status"] == "Success", run
    assert json.loads(run["job_parameters"]) == {"audit_retention_hour": 168, "include_operations": "pull", "dry_run": True, "purged": 2}
    log = core.get(f"/api/v2.0/system/purgeaudit/{dry}/log", headers=ADMIN)
    assert log.status_code == 200 and "dry run: 2 records would be purged" in log.get_data(as_text=True)
    assert len(kept()) == 4

    real = start_purge(core, audit_retention_hour=168, include_operations="pull", dry_run=False)
    run = purge_run(core, real, "Success", "Error")
    assert run["job_status"] == "Success", run
    assert json.loads(run["job_parameters"])["purged"] == 2
    assert "2 records purged" in core.get(f"/api/v2.0/system/purgeaudit/{real}/log", headers=ADMIN).get_data(as_text=True)
    assert kept() == [("pull", 1), ("create", 450)]

    history = core.get("/api/v2.0/system/purgeaudit?page_size=100", headers=ADMIN).get_json()
    assert [h["id"] for h in history][:2] == [real, dry]
    assert {h["job_kind"] for h in history} == {"MANUAL"}


def test_webhook_delivery_through_the_api(core, live_db) -> None:
    project = f"hooks-{uuid.uuid4().hex[:8]}"
    response = core.post("/api/v2.0/projects", json={"project_name": project, "metadata": {"public": "false"}}, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    base = f"/api/v2.0/projects/{project}/webhook"
    headers = {**ADMIN, "X-Is-Resource-Name": "true"}
    with WebhookReceiver() as receiver:
        policy = {
            "name": "ci",
            "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": receiver.url, "auth_header": "Bearer hook", "payload_format": "Default"}],
            "secret": SECRET,
        }
        created = core.post(f"{base}/policies", json=policy, headers=headers)
        assert created.status_code == 201, created.get_data(as_text=True)
        policy_id = int(created.headers["Location"].rsplit("/", 1)[1])
        payload = {
            "type": "PUSH_ARTIFACT",
            "occur_at": int(dt.datetime.now(dt.UTC).timestamp()),
            "operator": "admin",
            "event_data": {
                "resources": [{"digest": "sha256:" + "cd" * 32, "tag": "v1", "resource_url": f"berth.test/{project}/app:v1"}],
                "repository": {"name": "app", "namespace": project, "repo_full_name": f"{project}/app", "repo_type": "private"},
            },
        }
        # What the registry writes in the push's transaction; the jobservice relays it.
        with live_db.transaction() as cur:
            outbox_db.insert(cur, event_type="PUSH_ARTIFACT", ordering_key=f"{project}/app", payload=payload)
        delivery = receiver.wait_for(1, timeout=20)[0]

    assert delivery.json() == payload
    assert webhooks.verify(SECRET, delivery.body, delivery.header("X-Berth-Signature"))
    assert delivery.header("Authorization") == "Bearer hook"

    def execution() -> dict | None:
        listed = core.get(f"{base}/policies/{policy_id}/executions", headers=headers).get_json()
        return listed[0] if listed and listed[0]["status"] == "Success" else None

    done = wait_until(execution, 20.0, "webhook execution Success")
    assert (done["trigger"], done["metrics"]["success_task_count"], done["extra_attrs"]["event_type"]) == ("EVENT", 1, "PUSH_ARTIFACT")
    tasks = core.get(f"{base}/policies/{policy_id}/executions/{done['id']}/tasks", headers=headers).get_json()
    assert [(t["status"], t["run_count"]) for t in tasks] == [("Success", 1)]
    log = core.get(f"{base}/policies/{policy_id}/executions/{done['id']}/tasks/{tasks[0]['id']}/log", headers=headers)
    assert log.status_code == 200 and receiver.url in log.get_data(as_text=True)
    assert "Bearer hook" not in log.get_data(as_text=True) and SECRET not in log.get_data(as_text=True)
    trigger = core.get(f"{base}/lasttrigger", headers=headers).get_json()
    assert [(t["policy_name"], t["event_type"], t["last_trigger_time"]) for t in trigger] == [("ci", "PUSH_ARTIFACT", done["start_time"])]


def test_monitor_shows_the_live_pool_and_a_paused_queue_holds_jobs(core, jobservice, live_db) -> None:
    pools = core.get("/api/v2.0/jobservice/pools", headers=ADMIN).get_json()
    mine = [p for p in pools if p["worker_pool_id"] == jobservice.pool_id]
    assert len(mine) == 1 and mine[0]["concurrency"] == 2
    workers = core.get(f"/api/v2.0/jobservice/pools/{jobservice.pool_id}/workers", headers=ADMIN).get_json()
    assert len(workers) == 2

    assert core.put("/api/v2.0/jobservice/queues/PURGE_AUDIT_LOG", json={"action": "pause"}, headers=ADMIN).status_code == 200
    try:
        # The jobservice applies pauses on its next heartbeat: its consumer of the queue goes away.
        wait_until(lambda: "PURGE_AUDIT_LOG" not in jobservice.consumer.consuming, 10, "PURGE_AUDIT_LOG consumer cancelled")
        run_id = start_purge(core, audit_retention_hour=1, include_operations="none", dry_run=True)
        queue = {q["job_type"]: q for q in core.get("/api/v2.0/jobservice/queues", headers=ADMIN).get_json()}["PURGE_AUDIT_LOG"]
        assert (queue["count"], queue["paused"]) == (1, True)
        assert purge_run(core, run_id, "Running", "Success")["job_status"] == "Running"
    finally:
        assert core.put("/api/v2.0/jobservice/queues/PURGE_AUDIT_LOG", json={"action": "resume"}, headers=ADMIN).status_code == 200
    assert purge_run(core, run_id, "Success", "Error")["job_status"] == "Success"
    with live_db.transaction() as cur:
        cur.execute("SELECT job_id FROM task WHERE execution_id = %s", (run_id,))
        job_id = cur.fetchone()[0]
    log = core.get(f"/api/v2.0/jobservice/jobs/{job_id}/log", headers=ADMIN)
    assert log.status_code == 200 and "purge audit log" in log.get_data(as_text=True)
