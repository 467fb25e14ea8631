"""Registry settings, read once from ``REGISTRY_*`` environment variables (rendered by prepare)."""

from __future__ import annotations

import dataclasses

from berth_common.settings import Settings, setting


@dataclasses.dataclass(frozen=True, repr=False)
class RegistrySettings(Settings):
    PREFIX = "REGISTRY_"

    database_url: str = setting(str, required=True, secret=True, help="PostgreSQL URL")
    db_pool_size: int = setting(int, 8, minimum=1, maximum=200)
    port: int = setting(int, 8181, minimum=1, maximum=65535)
    workers: int = setting(int, 2, minimum=1, maximum=64)
    threads: int = setting(int, 8, minimum=1, maximum=256)

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

    fast_path: bool = setting(bool, True, help="hand blob bytes to nginx with X-Accel-Redirect")
    fast_path_prefix: str = setting(str, "/_blobstore/")
    upload_spool_dir: str = setting(
        str, "", help="absolute folder where nginx writes large upload bodies (X-Berth-Body-File); empty = off, bodies stream"
    )

    token_cert_path: str = setting(str, required=True, help="PEM certificate or public key that verifies tokens")
    token_issuer: str = setting(str, "berth-token-issuer")
    token_service: str = setting(str, "berth-registry")
    token_realm: str = setting(str, required=True, help="<external URL>/service/token")

    policy_cache_seconds: float = setting(float, 5.0, minimum=0)
    manifest_cache_mb: int = setting(int, 64, minimum=0, maximum=4096, help="per-process cache of manifest bytes (0 = off)")
    ref_cache_seconds: float = setting(
        float, 60.0, minimum=0, maximum=3600, help="longest life of a cached tag/digest lookup, kept true by LISTEN/NOTIFY (0 = off)"
    )
    ref_cache_entries: int = setting(int, 20_000, minimum=0, maximum=1_000_000, help="tag/digest lookups cached per process")
    pull_flush_seconds: float = setting(float, 1.0, minimum=0.05, maximum=60, help="how often buffered pull events are written")
    log_level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    syslog_address: str = setting(str, "", help="host:port of the log collector (UDP)")
