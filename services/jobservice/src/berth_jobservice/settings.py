"""Jobservice settings, read once from the environment (rendered by prepare).

``JOBSERVICE_*`` configure the service itself. The registry's storage, which PURGE_UPLOAD (and
later garbage collection) deletes from, is read from the very ``REGISTRY_STORAGE_*`` variables the
registry uses, so the two can never disagree about where the bytes are.
"""

from __future__ import annotations

import dataclasses

from berth_common.settings import Settings, setting


@dataclasses.dataclass(frozen=True, repr=False)
class JobserviceSettings(Settings):
    PREFIX = "JOBSERVICE_"

    database_url: str = setting(str, required=True, secret=True, help="PostgreSQL URL")
    db_pool_size: int = setting(int, 0, minimum=0, maximum=400, help="pooled connections; 0 = 2 × workers + 7 (see app.py)")
    rabbitmq_url: str = setting(str, required=True, secret=True, help="AMQP URL")
    amqp_prefix: str = setting(str, "berth", help="first part of every queue and exchange name (berth.jobs.<TYPE>, berth.events)")
    amqp_reconnect_max_seconds: float = setting(float, 30.0, minimum=0.1, help="longest wait between reconnect attempts")
    workers: int = setting(int, 10, minimum=1, maximum=200, help="concurrent jobs (max_job_workers)")
    registry_url: str = setting(str, "", help="internal URL of the registry service")
    core_url: str = setting(str, "", help="internal URL of core")
    heartbeat_seconds: int = setting(int, 10, minimum=1)
    nice: int = setting(
        int, 10, minimum=0, maximum=19,
        help="CPU priority below the services that answer clients (os.nice): background work yields when CPUs are busy",
    )  # fmt: skip

    # Which loops this process runs; all by default. The scheduler and the relay are active in
    # one process at a time anyway (advisory locks), the others stand by.
    run_scheduler: bool = setting(bool, True)
    run_relay: bool = setting(bool, True)
    run_webhook_dispatch: bool = setting(bool, True)

    # Task lifecycle.
    task_lease_seconds: float = setting(float, 30.0, minimum=1, help="a Running task whose owner stops renewing is re-run")
    sweep_interval_seconds: float = setting(float, 5.0, minimum=0.05)
    republish_after_seconds: float = setting(float, 10.0, minimum=0, help="grace before an unconfirmed Pending task is published again")
    retry_base_seconds: float = setting(float, 10.0, minimum=0.01, help="first retry delay; doubles per failure")
    retry_max_seconds: float = setting(float, 600.0, minimum=0.01)
    busy_requeue_seconds: float = setting(float, 2.0, minimum=0.01, help="delay before a job over its concurrency limit is tried again")
    shutdown_grace_seconds: float = setting(float, 25.0, minimum=0, help="SIGTERM: wait this long for running jobs, then requeue them")

    scheduler_interval_seconds: float = setting(float, 1.0, minimum=0.05)
    relay_interval_seconds: float = setting(float, 0.5, minimum=0.01)
    relay_batch_size: int = setting(int, 200, minimum=1, maximum=10000)
    leader_retry_seconds: float = setting(float, 5.0, minimum=0.05, help="how often a standby tries to become scheduler/relay")

    # Webhooks, with Harbor's names (WEBHOOK_JOB_MAX_RETRY, WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT).
    webhook_job_max_retry: int = setting(int, 3, minimum=1, maximum=50, help="delivery attempts per target")
    webhook_job_http_client_timeout: float = setting(float, 3.0, minimum=0.1, help="seconds")

    upload_purging_enabled: bool = setting(bool, True)
    upload_purging_age_hours: int = setting(int, 168, minimum=1)
    upload_purging_interval_hours: int = setting(int, 24, minimum=1)
    upload_purging_dry_run: bool = setting(bool, False)
    upload_spool_dir: str = setting(
        str, "", help="nginx's spool folder for large upload bodies (the registry's REGISTRY_UPLOAD_SPOOL_DIR); stale files are purged"
    )

    log_level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    syslog_address: str = setting(str, "", help="host:port of the log collector (UDP)")


@dataclasses.dataclass(frozen=True, repr=False)
class StorageSettings(Settings):
    """The registry's storage settings, same variables and defaults as RegistrySettings' storage part.

    Kept field for field identical to berth_registry.settings.RegistrySettings (a unit test
    checks it), because berth_registry.storage.factory.from_settings reads exactly these fields.
    """

    PREFIX = "REGISTRY_"

    storage_driver: str = setting(str, "filesystem", choices=("filesystem", "s3", "inmemory"))
    storage__filesystem__root: str = setting(str, "/var/lib/berth/registry")
    storage__s3__bucket: str = setting(str, "")
    storage__s3__region: str = setting(str, "us-east-1")
    storage__s3__endpoint_url: str = setting(str, "", help="e.g. http://127.0.0.1:9000 for MinIO; empty for AWS")
    storage__s3__access_key: str = setting(str, "", secret=True)
    storage__s3__secret_key: str = setting(str, "", secret=True)
    storage__s3__root_directory: str = setting(str, "")
    storage__s3__chunk_size: int = setting(int, 10 * 1024 * 1024, minimum=5 * 1024 * 1024)
    storage__s3__redirect: bool = setting(bool, False, help="answer blob GETs with 307 to a presigned URL")
