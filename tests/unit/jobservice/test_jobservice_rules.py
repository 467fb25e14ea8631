"""Pure rules of the jobservice: cron, backoff, messages, lock keys, names, job contracts, settings."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

from berth_jobservice.db import locks
from berth_jobservice.jobs import default_registry
from berth_jobservice.jobs.base import Job, JobParameterError, JobRegistry
from berth_jobservice.jobs.purge_audit import PurgeAuditLogJob
from berth_jobservice.jobs.purge_upload import PurgeUploadJob
from berth_jobservice.jobs.webhook import DeliveryError, WebhookJob
from berth_jobservice.runtime.amqp import Backoff, Topology, job_message, parse_job_message
from berth_jobservice.runtime.worker import retry_delay
from berth_jobservice.services.schedules import next_run_after, parse_cron
from berth_jobservice.settings import JobserviceSettings

T0 = dt.datetime(2024, 5, 1, 10, 0, 7, tzinfo=dt.UTC)


def test_harbor_six_field_cron_has_seconds_first():
    assert next_run_after(T0, cron="*/15 * * * * *") == T0.replace(second=15)
    assert next_run_after(T0, cron="0 0 * * * *") == T0.replace(hour=11, second=0)
    assert next_run_after(T0, cron="0 0 0 * * 0") == dt.datetime(2024, 5, 5, tzinfo=dt.UTC)  # weekly, Sunday


def test_five_field_cron_and_intervals():
    assert next_run_after(T0, cron="30 2 * * *") == dt.datetime(2024, 5, 2, 2, 30, tzinfo=dt.UTC)
    assert next_run_after(T0, interval_seconds=90) == T0 + dt.timedelta(seconds=90)


@pytest.mark.parametrize("cron", ["", "* * *", "61 * * * * *", "0 0 * * * * * *", "a b c d e f"])
def test_bad_cron_is_refused(cron):
    with pytest.raises(JobParameterError):
        parse_cron(cron)


def test_retry_delay_doubles_and_is_capped():
    assert [retry_delay(n, 10, 60) for n in range(1, 6)] == [10, 20, 40, 60, 60]
    assert retry_delay(0, 10, 60) == 10


def test_backoff_doubles_caps_and_resets():
    backoff = Backoff(0.5, 3)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    backoff.reset()
    assert backoff.next() == 0.5


def test_job_messages_carry_only_a_task_id():
    assert parse_job_message(job_message(12, "WEBHOOK")) == 12
    for body in (b"", b"nope", b"[]", b'{"task_id": "1"}', b'{"task_id": true}', b'{"task_id": 0}', b"\xff\xfe"):
        with pytest.raises(ValueError):
            parse_job_message(body)


def test_lock_keys_are_stable_distinct_and_fit_a_bigint():
    fixed = {locks.key(p) for p in (locks.SCHEDULER, locks.RELAY, locks.SWEEPER)}
    slots = {locks.slot_key(t, s) for t in ("GARBAGE_COLLECTION", "PURGE_AUDIT_LOG", "WEBHOOK") for s in range(4)}
    assert len(fixed) == 3 and len(slots) == 12 and not fixed & slots
    assert locks.slot_key("WEBHOOK", 1) == locks.slot_key("WEBHOOK", 1)
    assert all(0 < k < 2**63 for k in fixed | slots)


def test_topology_names():
    topology = Topology("berth")
    assert topology.work_queue("WEBHOOK") == "berth.jobs.WEBHOOK"
    assert topology.dead_queue("WEBHOOK") == "berth.jobs.WEBHOOK.dead"
    assert topology.delay_queue("WEBHOOK", 2000) == "berth.jobs.WEBHOOK.delay.2000"
    assert topology.events_exchange == "berth.events"
    assert topology.webhook_events_queue == "berth.events.webhook"


class _NoName(Job):
    def run(self, ctx, params):
        pass


class _Named(_NoName):
    name = "X"


def test_registry_refuses_bad_or_duplicate_types():
    with pytest.raises(ValueError, match="no name"):
        JobRegistry([_NoName()])
    with pytest.raises(ValueError, match="twice"):
        JobRegistry([_Named(), _Named()])
    broken = _Named()
    broken.max_fails = 0
    with pytest.raises(ValueError, match="max_fails"):
        JobRegistry([broken])
    with pytest.raises(JobParameterError, match="unknown job type 'Y'; known: X"):
        JobRegistry([_Named()]).validate("Y", {})


def test_every_built_in_job_honours_the_contract():
    settings = JobserviceSettings(database_url="", rabbitmq_url="", webhook_job_max_retry=5)
    registry = default_registry(settings, storage=lambda: None)
    assert registry.names() == ["PURGE_AUDIT_LOG", "PURGE_UPLOAD", "WEBHOOK"]
    for job in registry:
        assert isinstance(job, Job) and not inspect.isabstract(type(job))
        assert job.max_fails >= 1 and job.max_concurrency >= 0
        assert list(inspect.signature(job.run).parameters) == ["ctx", "params"]
    assert registry.get("WEBHOOK").max_fails == 5 and registry.get("WEBHOOK").max_concurrency == 0
    assert registry.get("PURGE_AUDIT_LOG").max_concurrency == 1 and registry.get("PURGE_UPLOAD").max_concurrency == 1


def test_webhook_job_parameters_and_retry_rule():
    job = WebhookJob()
    good = {"policy_id": 1, "project_id": 2, "event_id": 3, "event_type": "PUSH_ARTIFACT", "address": "https://x/y", "payload": {}}
    job.validate(good)
    for bad in ({"policy_id": "1"}, {"event_type": "NOPE"}, {"address": "ftp://x"}, {"payload": []}, {"payload_format": "Xml"}):
        with pytest.raises(JobParameterError):
            job.validate({**good, **bad})
    assert job.should_retry(DeliveryError("503", retryable=True))
    assert not job.should_retry(DeliveryError("404", retryable=False))


def test_purge_job_parameters():
    PurgeAuditLogJob().validate({"audit_retention_hour": 24, "include_operations": "create,pull", "dry_run": True})
    PurgeAuditLogJob().validate({"audit_retention_hour": 24, "include_event_types": ["pull_artifact"]})
    with pytest.raises(JobParameterError, match="positive"):
        PurgeAuditLogJob().validate({"audit_retention_hour": True})
    PurgeUploadJob(lambda: None).validate({"age_hours": 168})
    with pytest.raises(JobParameterError, match="age_hours"):
        PurgeUploadJob(lambda: None).validate({"age_hours": 0})


def test_settings_defaults_and_redaction():
    settings = JobserviceSettings.from_env(
        {"JOBSERVICE_DATABASE_URL": "postgresql://u:pw@db/berth", "JOBSERVICE_RABBITMQ_URL": "amqp://u:pw@mq/%2F"}
    )
    assert (settings.amqp_prefix, settings.workers, settings.webhook_job_max_retry) == ("berth", 10, 3)
    assert settings.task_lease_seconds == 30 and settings.upload_purging_interval_hours == 24
    shown = repr(settings)
    assert "pw" not in shown and "********" in shown


def test_storage_settings_match_the_registry_ones_field_for_field():
    import dataclasses

    from berth_jobservice.settings import StorageSettings
    from berth_registry.settings import RegistrySettings

    def storage_fields(cls):
        return {
            f.name: (f.metadata["berth"].kind, f.metadata["berth"].default, f.metadata["berth"].secret, f.metadata["berth"].choices)
            for f in dataclasses.fields(cls)
            if f.name.startswith("storage")
        }

    assert StorageSettings.PREFIX == RegistrySettings.PREFIX
    assert storage_fields(StorageSettings) == storage_fields(RegistrySettings)


def test_storage_driver_comes_from_the_registry_variables(tmp_path, monkeypatch):
    from berth_jobservice import storage

    monkeypatch.setenv("REGISTRY_STORAGE_DRIVER", "filesystem")
    monkeypatch.setenv("REGISTRY_STORAGE__FILESYSTEM__ROOT", str(tmp_path))
    driver = storage.from_environment()
    driver.put_content("/probe", b"x")
    assert (tmp_path / "probe").read_bytes() == b"x"


def test_stale_spool_files_are_old_regular_files_only(tmp_path):
    import os
    import time

    from berth_jobservice.jobs.purge_upload import stale_spool_files

    old, fresh, folder = tmp_path / "0000000001", tmp_path / "0000000002", tmp_path / "sub"
    old.write_bytes(b"abandoned body")
    fresh.write_bytes(b"upload in flight")
    folder.mkdir()
    (tmp_path / "link").symlink_to(old)
    two_hours_ago = time.time() - 2 * 3600
    for path in (old, folder):
        os.utime(path, (two_hours_ago, two_hours_ago))
    os.utime(tmp_path / "link", (two_hours_ago, two_hours_ago), follow_symlinks=False)
    assert stale_spool_files(str(tmp_path), 1) == [old]
    assert stale_spool_files("", 1) == [] and stale_spool_files(str(tmp_path / "missing"), 1) == []
