"""Fixtures of the jobservice integration tests: a database of their own, a per-test AMQP prefix
(deleted afterwards), in-process jobservices and real jobservice subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from berth_common.db import Database
from berth_deploy import infra
from berth_jobservice.app import Jobservice
from berth_jobservice.jobs import default_registry
from berth_jobservice.settings import JobserviceSettings
from berth_migrations.runner import migrate
from support.jobservice.helpers import Broker, settings_env, wait_until
from support.jobservice.probe import PROBE_TABLE, probe_jobs

HERE = Path(__file__).parent

# Tables the tests write; emptied before each test (the database is shared within a session).
TABLES = (
    "task_log, task, execution, schedule, job_queue_status, webhook_policy, outbox, audit_log, "
    "jobservice_pools, blob_uploads, probe_runs, project_metadata, quotas, projects, users"
)


@pytest.fixture(scope="session")
def js_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated database only these tests use (they commit, and the relay reads the whole outbox)."""
    name = f"berth_jobs_{uuid.uuid4().hex[:10]}"
    url = infra.ensure_database(postgres_admin_url, name)
    try:
        migrate(url, log=lambda _msg: None)
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute(PROBE_TABLE)
        conn.close()
        yield url
    finally:
        infra.drop_database(postgres_admin_url, name)


@pytest.fixture
def js_db(js_database_url: str) -> Iterator[Database]:
    """A pool on the jobservice test database, emptied first."""
    conn = psycopg2.connect(js_database_url)
    with conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    conn.close()
    db = Database(js_database_url, maxconn=6, application_name="berth-jobservice-tests")
    yield db
    db.close()


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[Broker]:
    """A unique queue/exchange prefix for this test; everything under it is deleted afterwards."""
    found = Broker(rabbitmq_url, f"jst{uuid.uuid4().hex[:10]}")
    yield found
    found.cleanup([job.name for job in _registry(JobserviceSettings(database_url="", rabbitmq_url=""))])


def _registry(settings: JobserviceSettings, storage=None):
    return default_registry(settings, storage=storage, extra=probe_jobs())


@pytest.fixture
def make_settings(js_database_url: str, rabbitmq_url: str, broker: Broker) -> Callable[..., JobserviceSettings]:
    """Settings for a test jobservice: fast timings, small pools, the test's prefix."""

    def make(**overrides) -> JobserviceSettings:
        values = {
            "database_url": js_database_url,
            "rabbitmq_url": rabbitmq_url,
            "amqp_prefix": broker.prefix,
            "workers": 4,
            "heartbeat_seconds": 1,
            "task_lease_seconds": 3.0,
            "sweep_interval_seconds": 0.3,
            "republish_after_seconds": 1.0,
            "retry_base_seconds": 0.2,
            "retry_max_seconds": 1.0,
            "busy_requeue_seconds": 0.1,
            "shutdown_grace_seconds": 5.0,
            "scheduler_interval_seconds": 0.2,
            "relay_interval_seconds": 0.1,
            "leader_retry_seconds": 0.3,
            "amqp_reconnect_max_seconds": 1.0,
            "upload_purging_enabled": False,
        }
        values.update(overrides)
        settings = JobserviceSettings.from_env({}, **values)
        broker.track(settings)
        return settings

    return make


@pytest.fixture
def start_jobservice(make_settings: Callable[..., JobserviceSettings], js_db: Database) -> Iterator[Callable[..., Jobservice]]:
    """Start in-process jobservices (built-in and probe job types); all are stopped afterwards."""
    started: list[Jobservice] = []

    def start(*, storage=None, **overrides) -> Jobservice:
        """``storage``: a factory of the registry storage driver for PURGE_UPLOAD."""
        settings = make_settings(**overrides)
        service = Jobservice(settings, registry=_registry(settings, storage))
        started.append(service)
        service.start()
        wait_until(service.consumer.connected.is_set, 10, "job consumer connected")
        if service.dispatcher is not None:
            wait_until(service.dispatcher.connected.is_set, 10, "webhook dispatcher connected")
        return service

    yield start
    for service in started:
        service.stop(grace_seconds=0)


@pytest.fixture
def spawn_jobservice(
    make_settings: Callable[..., JobserviceSettings], js_db: Database, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real jobservice processes (jobservice_process.py); any still alive is killed afterwards."""
    processes: list[subprocess.Popen] = []

    def spawn(*, command: list[str] | None = None, **overrides) -> subprocess.Popen:
        settings = make_settings(**overrides)
        log_path = tmp_path / f"jobservice-{len(processes)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command or [sys.executable, str(HERE / "jobservice_process.py")],
                env={**os.environ, **settings_env(settings)},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=HERE,
            )
        process.log_path = log_path  # type: ignore[attr-defined]
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)
