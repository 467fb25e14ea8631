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
    amqp_prefix: str = setting(str, "berth", help="queue/exchange prefix; must equal the jobservice's JOBSERVICE_AMQP_PREFIX")
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

    # argon2id cost of password and robot-secret hashes (RFC 9106 second recommendation).
    argon2_time_cost: int = setting(int, 3, minimum=1, maximum=20)
    argon2_memory_kib: int = setting(int, 65536, minimum=8, maximum=4 * 1024 * 1024)
    argon2_parallelism: int = setting(int, 4, minimum=1, maximum=64)
    # Failed-login throttle per (username, client address), shared by all workers through PostgreSQL.
    login_max_failures: int = setting(int, 5, minimum=1, maximum=1000, help="failures within the window before a lockout")
    login_failure_window_seconds: int = setting(int, 900, minimum=1)
    login_lockout_seconds: int = setting(int, 300, minimum=1)

    # What /api/v2.0/systeminfo reports about the registry's storage (the registry owns it).
    registry_storage_provider_name: str = setting(str, "filesystem", choices=("filesystem", "s3"))
    storage_volume_path: str = setting(str, "", help="local path whose disk /systeminfo/volumes reports; empty: none")

    log_collector_address: str = setting(str, "", help="host:port checked by the health endpoint")
    jobservice_heartbeat_seconds: int = setting(int, 30, minimum=1)
    log_level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    syslog_address: str = setting(str, "", help="host:port of the log collector (UDP)")
