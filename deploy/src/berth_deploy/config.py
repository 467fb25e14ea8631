"""``berth.yml``: load, validate and normalise the one configuration file.

``load(path)`` returns a frozen :class:`Config` or raises :class:`ConfigError` whose message names
the offending key by its dotted path (``storage_service.s3.bucket``), so a bad value stops
``prepare`` before any service starts.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

CONFIG_VERSION = 1
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*([hmd])\s*$", re.IGNORECASE)
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")


class ConfigError(ValueError):
    """berth.yml has a missing or bad value; the message names the key."""


@dataclasses.dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str
    endpoint: str
    access_key: str
    secret_key: str
    root_directory: str
    chunk_size: int


@dataclasses.dataclass(frozen=True)
class Config:
    path: Path
    hostname: str
    external_url: str
    http_bind: str
    http_port: int
    https_enabled: bool
    https_port: int
    tls_certificate: Path | None
    tls_private_key: Path | None
    admin_password: str
    database_url: str
    database_max_conns: int
    rabbitmq_url: str
    amqp_prefix: str
    data_volume: Path
    storage_type: str
    filesystem_root: Path
    s3: S3Config
    redirect_disabled: bool
    log_level: str
    log_location: Path
    log_rotate_size: int
    log_rotate_count: int
    log_collector_port: int
    max_job_workers: int
    token_expiration: int
    upload_purging_enabled: bool
    upload_purging_age_hours: int
    upload_purging_interval_hours: int
    upload_purging_dry_run: bool
    webhook_job_max_retry: int
    webhook_job_http_client_timeout: int
    internal_bind: str
    core_port: int
    registry_port: int
    core_workers: int
    registry_workers: int

    @property
    def secret_dir(self) -> Path:
        return self.data_volume / "secret"

    @property
    def run_dir(self) -> Path:
        return self.data_volume / "run"

    @property
    def config_dir(self) -> Path:
        return self.data_volume / "config"

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


class _Reader:
    """Typed access to a nested mapping that reports problems by dotted key."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def raw(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part!r} is under a value that is not a mapping")
            if part not in node or node[part] is None:
                return default
            node = node[part]
        return node

    def str(self, key: str, default: str = "") -> str:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__}")
        return str(value).strip()

    def int(self, key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            else:
                raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{key}: must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{key}: must be at most {maximum}, got {value}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value

    def port(self, key: str, default: int) -> int:
        return self.int(key, default, 1, 65535)

    def size(self, key: str, default: str) -> int:
        value = self.raw(key, default)
        match = _SIZE.match(str(value))
        if not match:
            raise ConfigError(f"{key}: expected a size such as 200M, got {value!r}")
        unit = (match.group(2) or "B").upper()[0]
        return int(match.group(1)) * {"B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit]

    def hours(self, key: str, default: str) -> int:
        value = self.raw(key, default)
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"{key}: expected a duration such as 24h or 7d, got {value!r}")
        amount, unit = int(match.group(1)), match.group(2).lower()
        hours = {"h": amount, "d": amount * 24, "m": max(1, amount // 60)}[unit]
        if hours < 1:
            raise ConfigError(f"{key}: must be at least 1h")
        return hours

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(key, default).lower()
        if value not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, key: str, schemes: tuple[str, ...]) -> str:
        value = self.str(key, "")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in schemes or not parts.hostname:
                raise ConfigError(f"{key}: expected a {'/'.join(schemes)} URL with a host, got {_mask(value)!r}")
        return value


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "****", 1)
    return url


def load(path: str | Path) -> Config:
    """Read and validate ``path``; raises ConfigError naming the first bad key."""
    path = Path(path).resolve()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; copy berth.yml.example to berth.yml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse(data, path)


def parse(data: dict, path: Path) -> Config:
    r = _Reader(data)
    version = r.int("_version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(f"_version: this release reads version {CONFIG_VERSION}, got {version}")
    base = path.parent

    def resolve(value: str, default: Path) -> Path:
        if not value:
            return default
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (base / candidate).resolve()

    hostname = r.str("hostname", "")
    if not hostname or not _HOSTNAME.match(hostname):
        raise ConfigError(f"hostname: expected a host name or IP address, got {hostname!r}")
    data_volume = resolve(r.str("data_volume", "./data"), base / "data")
    https_enabled = r.bool("https.enabled", False)
    certificate = key = None
    if https_enabled:
        certificate = resolve(r.str("https.certificate"), Path())
        key = resolve(r.str("https.private_key"), Path())
        for name, file in (("https.certificate", certificate), ("https.private_key", key)):
            if not file.is_file():
                raise ConfigError(f"{name}: file {file} does not exist")
    http_port = r.port("http.port", 8080)
    https_port = r.port("https.port", 8443)
    external_url = r.url("external_url", ("http", "https"))
    if not external_url:
        scheme, port, default = ("https", https_port, 443) if https_enabled else ("http", http_port, 80)
        external_url = f"{scheme}://{hostname}" + ("" if port == default else f":{port}")
    admin_password = r.str("harbor_admin_password", "Harbor12345")
    if not admin_password:
        raise ConfigError("harbor_admin_password: must not be empty")

    storage_type = r.choice("storage_service.type", "filesystem", ("filesystem", "s3"))
    s3 = S3Config(
        bucket=r.str("storage_service.s3.bucket"),
        region=r.str("storage_service.s3.region", "us-east-1"),
        endpoint=r.url("storage_service.s3.regionendpoint", ("http", "https")),
        access_key=r.str("storage_service.s3.accesskey"),
        secret_key=r.str("storage_service.s3.secretkey"),
        root_directory=r.str("storage_service.s3.rootdirectory").strip("/"),
        chunk_size=r.size("storage_service.s3.chunksize", "10M"),
    )
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", r.str("rabbitmq.prefix", "berth")):
        raise ConfigError("rabbitmq.prefix: expected 1-64 letters, digits, '_' or '-'")
    if storage_type == "s3":
        if not s3.bucket:
            raise ConfigError("storage_service.s3.bucket: required when storage_service.type is s3")
        if s3.chunk_size < 5 * 1024 * 1024:
            raise ConfigError("storage_service.s3.chunksize: must be at least 5M (S3's smallest part)")

    config = Config(
        path=path,
        hostname=hostname,
        external_url=external_url.rstrip("/"),
        http_bind=r.str("http.bind", "0.0.0.0"),
        http_port=http_port,
        https_enabled=https_enabled,
        https_port=https_port,
        tls_certificate=certificate,
        tls_private_key=key,
        admin_password=admin_password,
        database_url=r.url("database.url", ("postgresql", "postgres")),
        database_max_conns=r.int("database.max_open_conns", 8, 1, 500),
        rabbitmq_url=r.url("rabbitmq.url", ("amqp", "amqps")),
        amqp_prefix=r.str("rabbitmq.prefix", "berth"),
        data_volume=data_volume,
        storage_type=storage_type,
        filesystem_root=resolve(r.str("storage_service.filesystem.rootdirectory"), data_volume / "registry"),
        s3=s3,
        redirect_disabled=r.bool("storage_service.redirect.disable", False),
        log_level=r.choice("log.level", "info", ("debug", "info", "warning", "error")),
        log_location=resolve(r.str("log.local.location"), data_volume / "log"),
        log_rotate_size=r.size("log.local.rotate_size", "200M"),
        log_rotate_count=r.int("log.local.rotate_count", 50, 1, 10000),
        log_collector_port=r.port("log.collector_port", 1514),
        max_job_workers=r.int("jobservice.max_job_workers", 10, 1, 200),
        token_expiration=r.int("token_expiration", 30, 1, 60 * 24 * 365),
        upload_purging_enabled=r.bool("upload_purging.enabled", True),
        upload_purging_age_hours=r.hours("upload_purging.age", "168h"),
        upload_purging_interval_hours=r.hours("upload_purging.interval", "24h"),
        upload_purging_dry_run=r.bool("upload_purging.dryrun", False),
        webhook_job_max_retry=r.int("notification.webhook_job_max_retry", 3, 1, 50),
        webhook_job_http_client_timeout=r.int("notification.webhook_job_http_client_timeout", 3, 1, 300),
        internal_bind=r.str("internal.bind", "127.0.0.1"),
        core_port=r.port("internal.core_port", 8180),
        registry_port=r.port("internal.registry_port", 8181),
        core_workers=r.int("internal.core_workers", 2, 1, 64),
        registry_workers=r.int("internal.registry_workers", 2, 1, 64),
    )
    ports = {
        "http.port": config.http_port,
        "internal.core_port": config.core_port,
        "internal.registry_port": config.registry_port,
        "log.collector_port": config.log_collector_port,
    }
    if config.https_enabled:
        ports["https.port"] = config.https_port
    seen: dict[int, str] = {}
    for key_name, port in ports.items():
        if port in seen:
            raise ConfigError(f"{key_name}: port {port} is already used by {seen[port]}")
        seen[port] = key_name
    return config
