"""Housekeeping jobs and schedules: PURGE_AUDIT_LOG, PURGE_UPLOAD (filesystem storage), cron and
interval schedules, missed runs after downtime, pausing the scheduler."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from pathlib import Path

import pytest

from berth_jobservice.client import JobClient
from berth_jobservice.db import queues as queues_db
from berth_jobservice.db import schedules as schedules_db
from berth_jobservice.jobs.base import JobParameterError
from berth_registry.storage import paths
from berth_registry.storage.factory import create as create_driver
from support.jobservice.helpers import probe_runs, task_log, wait_status, wait_until


def add_audit(db, operation: str, resource_type: str, hours_ago: float) -> None:
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO audit_log (operation, resource_type, resource, username, op_time)
            VALUES (%s, %s, 'library/app:v1', 'alice', now() - make_interval(secs => %s))
            """,
            (operation, resource_type, hours_ago * 3600),
        )


def audit_counts(db) -> dict[tuple[str, bool], int]:
    with db.transaction() as cur:
        cur.execute("SELECT operation, op_time < now() - interval '24 hours', count(*) FROM audit_log GROUP BY 1, 2")
        return {(op, old): n for op, old, n in cur.fetchall()}


def run_job(client: JobClient, db, job_type: str, params: dict, timeout: float = 20):
    submitted = client.submit(job_type, params)
    final = wait_status(db, submitted.tasks[0].id, "Success", "Error", timeout=timeout)
    return final, client.execution(submitted.execution.id)


def test_purge_audit_log_dry_run_then_real_keeps_recent_and_other_operations(start_jobservice, js_db):
    for operation, resource_type, hours in [
        ("pull", "artifact", 48),
        ("pull", "artifact", 72),
        ("delete", "artifact", 100),
        ("create", "project", 100),
        ("push", "artifact", 100),  # Harbor's create_artifact
        ("pull", "artifact", 1),
        ("delete", "artifact", 2),
    ]:
        add_audit(js_db, operation, resource_type, hours)
    service = start_jobservice()
    client = JobClient(js_db, service.publisher, service.registry)
    before = audit_counts(js_db)

    params = {
        "audit_retention_hour": 24,
        "include_operations": "pull",
        "include_event_types": "delete_artifact,create_artifact",
        "dry_run": True,
    }
    final, execution = run_job(client, js_db, "PURGE_AUDIT_LOG", params)
    assert final.status == "Success" and execution.extra_attrs == {"purged": 4, "dry_run": True}
    assert audit_counts(js_db) == before
    assert "dry run: 4 records would be purged" in task_log(js_db, final.id)

    final, execution = run_job(client, js_db, "PURGE_AUDIT_LOG", {**params, "dry_run": False})
    assert execution.status == "Success" and execution.extra_attrs == {"purged": 4, "dry_run": False}
    assert audit_counts(js_db) == {("create", True): 1, ("pull", False): 1, ("delete", False): 1}

    final, execution = run_job(client, js_db, "PURGE_AUDIT_LOG", {"audit_retention_hour": 1})
    assert execution.extra_attrs == {"purged": 0, "dry_run": False}  # nothing included: nothing purged
    assert "nothing to purge" in task_log(js_db, final.id)
    for bad in (
        {},
        {"audit_retention_hour": 0},
        {"audit_retention_hour": 1, "dry_run": "yes"},
        {"audit_retention_hour": 1, "include_operations": 5},
    ):
        with pytest.raises(JobParameterError):
            client.submit("PURGE_AUDIT_LOG", bad)
    executions, total = client.executions("PURGE_AUDIT_LOG")
    assert total == 3 and [e.extra_attrs["purged"] for e in executions] == [0, 4, 4]  # newest first


def _age(root: Path, path: str, hours: float) -> None:
    """Make everything stored under ``path`` look ``hours`` old."""
    stamp = time.time() - hours * 3600
    top = root / path.lstrip("/")
    for current, dirs, files in os.walk(top):
        for name in dirs + files:
            os.utime(Path(current) / name, (stamp, stamp))
    os.utime(top, (stamp, stamp))


def test_purge_upload_removes_abandoned_sessions_and_orphans_only(start_jobservice, js_db, tmp_path):
    root = tmp_path / "storage"
    driver = create_driver("filesystem", {"root": str(root)})
    with js_db.transaction() as cur:
        cur.execute("INSERT INTO users (username) VALUES ('owner') RETURNING user_id")
        cur.execute("INSERT INTO projects (name, owner_id) VALUES ('library', %s) RETURNING project_id", (cur.fetchone()[0],))
        project_id = cur.fetchone()[0]

    def session(hours_ago: float, *, row: bool = True, stored: bool = True, leased: bool = False) -> str:
        upload_id = str(uuid.uuid4())
        if stored:
            writer = driver.writer(paths.upload_data(upload_id))
            writer.write(b"partial layer bytes")
            writer.close()  # resumable, not committed: what an unfinished upload leaves behind
            driver.put_content(paths.upload_started_at(upload_id), b"2024-01-01T00:00:00Z")
            _age(root, paths.upload_dir(upload_id), hours_ago)
        if row:
            with js_db.transaction() as cur:
                cur.execute(
                    """
                    INSERT INTO blob_uploads (upload_id, project_id, repository_name, update_time, lease_owner, lease_expires)
                    VALUES (%s, %s, 'library/app', now() - make_interval(secs => %s), %s, %s)
                    """,
                    (
                        upload_id,
                        project_id,
                        hours_ago * 3600,
                        str(uuid.uuid4()) if leased else None,
                        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5) if leased else None,
                    ),
                )
        return upload_id

    abandoned = session(200)
    fresh = session(1)
    busy = session(200, leased=True)
    orphan = session(200, row=False)
    young_orphan = session(1, row=False)
    no_bytes = session(200, stored=False)

    service = start_jobservice(storage=lambda: create_driver("filesystem", {"root": str(root)}))
    client = JobClient(js_db, service.publisher, service.registry)
    _, execution = run_job(client, js_db, "PURGE_UPLOAD", {"age_hours": 168, "dry_run": True})
    assert execution.extra_attrs == {"purged_sessions": 2, "purged_orphans": 1, "purged_spool_files": 0, "dry_run": True}

    final, execution = run_job(client, js_db, "PURGE_UPLOAD", {"age_hours": 168})
    assert final.status == "Success", task_log(js_db, final.id)
    assert execution.extra_attrs == {"purged_sessions": 2, "purged_orphans": 1, "purged_spool_files": 0, "dry_run": False}
    with js_db.transaction() as cur:
        cur.execute("SELECT upload_id::text FROM blob_uploads")
        rows = {row[0] for row in cur.fetchall()}
    assert rows == {fresh, busy}
    stored = {p.rsplit("/", 1)[-1] for p in driver.list(paths.UPLOADS)}
    assert stored == {fresh, busy, young_orphan}
    log = task_log(js_db, final.id)
    assert f"removed upload {abandoned}" in log and f"removed upload {orphan}" in log
    assert f"removed upload {no_bytes} (no bytes were stored)" in log


def test_upload_purging_schedule_follows_settings_and_survives_restarts(start_jobservice, js_db):
    first = start_jobservice(upload_purging_enabled=True, upload_purging_interval_hours=24, upload_purging_age_hours=100)
    client = JobClient(js_db, first.publisher, first.registry)
    schedule = client.schedule("PURGE_UPLOAD")
    assert schedule.interval_seconds == 86400 and schedule.callback_params == {"age_hours": 100, "dry_run": False}
    first.stop(grace_seconds=0)
    start_jobservice(upload_purging_enabled=True, upload_purging_interval_hours=24, upload_purging_age_hours=100)
    assert client.schedule("PURGE_UPLOAD").next_run == schedule.next_run  # a restart does not postpone it
    start_jobservice(upload_purging_enabled=True, upload_purging_interval_hours=12, upload_purging_age_hours=100)
    assert client.schedule("PURGE_UPLOAD").interval_seconds == 12 * 3600
    start_jobservice(upload_purging_enabled=False)
    assert client.schedule("PURGE_UPLOAD") is None


def test_a_run_missed_during_downtime_fires_once(start_jobservice, js_db):
    with js_db.transaction() as cur:
        now = schedules_db.db_now(cur)
        # Every minute at second 0, last fired two hours ago: 120 slots were missed.
        schedules_db.upsert(
            cur,
            vendor_type="T_PROBE",
            vendor_id=7,
            cron_type="Custom",
            cron="0 * * * * *",
            interval_seconds=None,
            callback_job_type="T_PROBE",
            callback_params={"label": "missed"},
            extra_attrs=None,
            next_run=now - dt.timedelta(hours=2),
        )
    service = start_jobservice()
    wait_until(lambda: probe_runs(js_db, "missed"), 10, "the missed run")
    time.sleep(1.0)
    assert len(probe_runs(js_db, "missed")) == 1
    client = JobClient(js_db, service.publisher, service.registry)
    schedule = client.schedule("T_PROBE", 7)
    assert schedule.last_run is not None and schedule.next_run > schedule.last_run
    assert schedule.next_run.second == 0 and schedule.next_run - schedule.last_run <= dt.timedelta(minutes=1)
    executions, _ = client.executions("T_PROBE", 7)
    assert [e.trigger for e in executions] == ["SCHEDULE"]


def test_pausing_the_scheduler_holds_schedules_until_resumed(start_jobservice, js_db):
    service = start_jobservice()
    client = JobClient(js_db, service.publisher, service.registry)
    assert client.queue_action("SCHEDULER", "pause")
    assert client.scheduler_paused()
    client.save_schedule(vendor_type="T_PROBE", callback_job_type="T_PROBE", callback_params={"label": "held"}, interval_seconds=1)
    time.sleep(2.0)
    assert probe_runs(js_db, "held") == []
    client.queue_action("SCHEDULER", "resume")
    wait_until(lambda: probe_runs(js_db, "held"), 10, "a run after resuming")
    assert client.delete_schedule("T_PROBE")


def test_schedules_are_validated(start_jobservice, js_db):
    service = start_jobservice(run_scheduler=False, run_relay=False, run_webhook_dispatch=False)
    client = JobClient(js_db, service.publisher, service.registry)
    ok = {"vendor_type": "PURGE_AUDIT_LOG", "callback_job_type": "PURGE_AUDIT_LOG", "callback_params": {"audit_retention_hour": 24}}
    for change, message in [
        ({"cron": "0 0 * * *x"}, "invalid cron"),
        ({"cron": "* * *"}, "6 fields"),
        ({"cron": "0 0 * * * *", "interval_seconds": 60}, "exactly one"),
        ({}, "exactly one"),
        ({"interval_seconds": 0}, "positive"),
        ({"cron": "0 0 * * * *", "callback_params": {}}, "audit_retention_hour"),
        ({"cron": "0 0 * * * *", "callback_job_type": "NOPE"}, "unknown job type"),
        ({"cron": "0 0 * * * *", "cron_type": "Yearly"}, "schedule type"),
    ]:
        with pytest.raises(JobParameterError, match=message):
            client.save_schedule(**{**ok, **change})
    hourly = client.save_schedule(**ok, cron="0 0 * * * *", cron_type="Hourly")
    assert hourly.next_run.minute == 0 and hourly.next_run.second == 0
    assert client.schedules() == ([hourly], 1)
    with js_db.transaction() as cur:
        assert not queues_db.is_paused(cur, "SCHEDULER")
