"""Jobservice settings, read once from ``JOBSERVICE_*`` environment variables (rendered by prepare)."""

from __future__ import annotations

import dataclasses

from berth_common.settings import Settings, setting


@dataclasses.dataclass(frozen=True, repr=False)
class JobserviceSettings(Settings):
    PREFIX = "JOBSERVICE_"

    database_url: str = setting(str, required=True, secret=True, help="PostgreSQL URL")
    rabbitmq_url: str = setting(str, required=True, secret=True, help="AMQP URL")
    workers: int = setting(int, 10, minimum=1, maximum=200, help="concurrent jobs (max_job_workers)")
    registry_url: str = setting(str, "", help="internal URL of the registry service")
    core_url: str = setting(str, "", help="internal URL of core")
    heartbeat_seconds: int = setting(int, 10, minimum=1)
    upload_purging_enabled: bool = setting(bool, True)
    upload_purging_age_hours: int = setting(int, 168, minimum=1)
    upload_purging_interval_hours: int = setting(int, 24, minimum=1)
    log_level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    syslog_address: str = setting(str, "", help="host:port of the log collector (UDP)")
