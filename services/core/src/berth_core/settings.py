"""Core settings, read once from ``CORE_*`` environment variables (rendered by prepare)."""

from __future__ import annotations

import dataclasses

from berth_common.settings import Settings, setting


@dataclasses.dataclass(frozen=True, repr=False)
class CoreSettings(Settings):
    PREFIX = "CORE_"

    database_url: str = setting(str, required=True, secret=True, help="PostgreSQL URL")
    db_pool_size: int = setting(int, 8, minimum=1, maximum=200)
    rabbitmq_url: str = setting(str, required=True, secret=True, help="AMQP URL")
    registry_url: str = setting(str, required=True, help="internal URL of the registry service")
    external_url: str = setting(str, required=True, help="URL clients use to reach Berth")
    port: int = setting(int, 8180, minimum=1, maximum=65535)
    workers: int = setting(int, 2, minimum=1, maximum=64)
    threads: int = setting(int, 8, minimum=1, maximum=256)

    token_private_key_path: str = setting(str, required=True)
    token_cert_path: str = setting(str, required=True)
    token_issuer: str = setting(str, "berth-token-issuer")
    token_service: str = setting(str, "berth-registry")
    token_expiration: int = setting(int, 30, minimum=1, help="minutes; initial value of the config item")
    secret_key_path: str = setting(str, required=True, help="file holding the key for sessions and secrets")
    admin_initial_password: str = setting(str, "Harbor12345", secret=True)

    log_collector_address: str = setting(str, "", help="host:port checked by the health endpoint")
    jobservice_heartbeat_seconds: int = setting(int, 30, minimum=1)
    log_level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    syslog_address: str = setting(str, "", help="host:port of the log collector (UDP)")
