"""``prepare``: render every service's configuration and the nginx config from berth.yml.

Two targets share one renderer:

* ``local``: services run as processes on this machine (``make up``); files go under
  ``<data_volume>/config`` and secrets under ``<data_volume>/secret``.
* ``compose``: services run in deploy/compose.yml; files go under ``deploy/generated`` and use
  the compose network's service names and in-container paths.

Output layout (both targets)::

    <out>/env/{core,registry,jobservice,log,migrations}.env   KEY=VALUE, mode 0600
    <out>/nginx/nginx.conf
    <secret>/private_key.pem   RSA key that signs registry tokens (created once, never replaced)
    <secret>/root.crt          self-signed certificate of that key; the registry verifies with it
    <secret>/secretkey         random key for sessions and stored secrets (created once)

Secrets are created when absent and never replaced, so stop / edit / prepare / start keeps every
token, session and stored secret valid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from berth_deploy.config import Config, ConfigError

# 2048-bit RSA keeps token signing fast (the token endpoint is benchmarked) while meeting
# current guidance; the key is replaceable by dropping in another private_key.pem + root.crt.
TOKEN_KEY_BITS = 2048
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("berth_deploy", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # nginx config, not HTML
)


@dataclasses.dataclass(frozen=True)
class Addresses:
    """Where each service listens and how the others reach it, for one target."""

    core_bind: str
    core_port: int
    registry_bind: str
    registry_port: int
    log_bind: str
    log_port: int
    core_url: str
    registry_url: str
    log_address: str  # host:port of the collector (health checks)
    syslog_address: str  # where services send their own log lines; "" when the runtime forwards stdout
    storage_root: str  # filesystem storage root as the registry and nginx see it
    secret_dir: str  # secrets as the services see them
    nginx_listen_http: str
    nginx_listen_https: str
    nginx_run_dir: str
    nginx_log_syslog: str
    # Where nginx writes large upload bodies for the registry to link into storage; "" = off.
    upload_spool_dir: str = ""


@dataclasses.dataclass(frozen=True)
class Prepared:
    out_dir: Path
    secret_dir: Path
    env_files: dict[str, Path]
    nginx_conf: Path


def local_addresses(config: Config) -> Addresses:
    log_address = f"127.0.0.1:{config.log_collector_port}"
    return Addresses(
        core_bind=config.internal_bind,
        core_port=config.core_port,
        registry_bind=config.internal_bind,
        registry_port=config.registry_port,
        log_bind="127.0.0.1",
        log_port=config.log_collector_port,
        core_url=f"http://{_connect_host(config.internal_bind)}:{config.core_port}",
        registry_url=f"http://{_connect_host(config.internal_bind)}:{config.registry_port}",
        log_address=log_address,
        syslog_address=log_address,
        storage_root=str(config.filesystem_root),
        secret_dir=str(config.secret_dir),
        nginx_listen_http=f"{config.http_bind}:{config.http_port}",
        nginx_listen_https=f"{config.http_bind}:{config.https_port}",
        nginx_run_dir=str(config.run_dir / "nginx"),
        nginx_log_syslog=log_address,
        upload_spool_dir=upload_spool_dir(config),
    )


# Inside the storage root, so that a spooled body can be hard-linked into place (same
# filesystem); "~" keeps it out of the filesystem driver's listings and paths.
UPLOAD_SPOOL_NAME = "~spool"


def upload_spool_dir(config: Config) -> str:
    """The folder nginx spools large upload bodies to, for the local target with filesystem storage.

    Empty (uploads stream through) with S3, where there is no file to link, and under compose,
    where proxy and registry run in separate containers (see compose_addresses).
    """
    if config.storage_type != "filesystem":
        return ""
    return str(config.filesystem_root / UPLOAD_SPOOL_NAME)


# Ports and paths inside the compose network (deploy/compose.yml relies on these).
COMPOSE_CORE_PORT = 8080
COMPOSE_REGISTRY_PORT = 5000
COMPOSE_LOG_PORT = 10514
COMPOSE_PROXY_HTTP_PORT = 8080
COMPOSE_PROXY_HTTPS_PORT = 8443
COMPOSE_STORAGE_ROOT = "/storage"
COMPOSE_SECRET_DIR = "/etc/berth/secret"
COMPOSE_LOG_DIR = "/var/log/berth"


def compose_addresses(config: Config) -> Addresses:
    return Addresses(
        core_bind="0.0.0.0",
        core_port=COMPOSE_CORE_PORT,
        registry_bind="0.0.0.0",
        registry_port=COMPOSE_REGISTRY_PORT,
        log_bind="0.0.0.0",
        log_port=COMPOSE_LOG_PORT,
        core_url=f"http://core:{COMPOSE_CORE_PORT}",
        registry_url=f"http://registry:{COMPOSE_REGISTRY_PORT}",
        log_address=f"log:{COMPOSE_LOG_PORT}",
        # docker's syslog logging driver already forwards everything a container prints.
        syslog_address="",
        storage_root=COMPOSE_STORAGE_ROOT,
        secret_dir=COMPOSE_SECRET_DIR,
        nginx_listen_http=str(COMPOSE_PROXY_HTTP_PORT),
        nginx_listen_https=str(COMPOSE_PROXY_HTTPS_PORT),
        nginx_run_dir="/tmp",
        nginx_log_syslog="",
        # Off: the proxy container would need the storage volume mounted at the registry's path
        # and write access to it, which deploy/compose.yml does not give it.
        upload_spool_dir="",
    )


def _connect_host(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "") else bind


def ensure_secrets(secret_dir: Path) -> None:
    """Create the token key pair and the secret key when absent; never replace existing ones."""
    secret_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secret_dir, 0o700)
    key_path = secret_dir / "private_key.pem"
    cert_path = secret_dir / "root.crt"
    if key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=TOKEN_KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        _write_private(key_path, pem)
    if not cert_path.exists() or not _cert_matches(cert_path, key):
        if cert_path.exists():
            raise RuntimeError(f"{cert_path} does not belong to {key_path}; restore the matching pair or remove both")
        _write_private(cert_path, _self_signed(key).public_bytes(serialization.Encoding.PEM), mode=0o644)
    secret_key = secret_dir / "secretkey"
    if not secret_key.exists():
        _write_private(secret_key, secrets.token_urlsafe(32).encode())


def _cert_matches(cert_path: Path, key) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def _self_signed(key) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-token-signer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def service_environments(config: Config, addr: Addresses, database_url: str, rabbitmq_url: str) -> dict[str, dict[str, str]]:
    """The environment of every service, keyed by service name."""
    secret = Path(addr.secret_dir)
    level = config.log_level.upper()
    s3 = config.s3
    registry = {
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_DB_POOL_SIZE": str(config.database_max_conns),
        "REGISTRY_BIND": addr.registry_bind,
        "REGISTRY_PORT": str(addr.registry_port),
        "REGISTRY_WORKERS": str(config.registry_workers),
        "REGISTRY_STORAGE_DRIVER": config.storage_type,
        "REGISTRY_STORAGE__FILESYSTEM__ROOT": addr.storage_root,
        "REGISTRY_FAST_PATH": "false" if config.redirect_disabled else "true",
        "REGISTRY_FAST_PATH_PREFIX": "/_blobstore/",
        "REGISTRY_UPLOAD_SPOOL_DIR": addr.upload_spool_dir,
        "REGISTRY_TOKEN_CERT_PATH": str(secret / "root.crt"),
        "REGISTRY_TOKEN_REALM": f"{config.external_url}/service/token",
        "REGISTRY_LOG_LEVEL": level,
        "REGISTRY_SYSLOG_ADDRESS": addr.syslog_address,
    }
    if config.storage_type == "s3":
        registry.update(
            {
                "REGISTRY_STORAGE__S3__BUCKET": s3.bucket,
                "REGISTRY_STORAGE__S3__REGION": s3.region,
                "REGISTRY_STORAGE__S3__ENDPOINT_URL": s3.endpoint,
                "REGISTRY_STORAGE__S3__ACCESS_KEY": s3.access_key,
                "REGISTRY_STORAGE__S3__SECRET_KEY": s3.secret_key,
                "REGISTRY_STORAGE__S3__ROOT_DIRECTORY": s3.root_directory,
                "REGISTRY_STORAGE__S3__CHUNK_SIZE": str(s3.chunk_size),
                "REGISTRY_STORAGE__S3__REDIRECT": "false" if config.redirect_disabled else "true",
            }
        )
    core = {
        "CORE_DATABASE_URL": database_url,
        "CORE_DB_POOL_SIZE": str(config.database_max_conns),
        "CORE_RABBITMQ_URL": rabbitmq_url,
        "CORE_AMQP_PREFIX": config.amqp_prefix,
        "CORE_REGISTRY_URL": addr.registry_url,
        "CORE_EXTERNAL_URL": config.external_url,
        "CORE_BIND": addr.core_bind,
        "CORE_PORT": str(addr.core_port),
        "CORE_WORKERS": str(config.core_workers),
        "CORE_TOKEN_PRIVATE_KEY_PATH": str(secret / "private_key.pem"),
        "CORE_TOKEN_CERT_PATH": str(secret / "root.crt"),
        "CORE_TOKEN_EXPIRATION": str(config.token_expiration),
        "CORE_SECRET_KEY_PATH": str(secret / "secretkey"),
        "CORE_ADMIN_INITIAL_PASSWORD": config.admin_password,
        "CORE_LOG_COLLECTOR_ADDRESS": addr.log_address,
        "CORE_REGISTRY_STORAGE_PROVIDER_NAME": config.storage_type,
        # /api/v2.0/systeminfo/volumes reports the free space of the blob storage.
        "CORE_STORAGE_VOLUME_PATH": addr.storage_root if config.storage_type == "filesystem" else "",
        "CORE_LOG_LEVEL": level,
        "CORE_SYSLOG_ADDRESS": addr.syslog_address,
    }
    jobservice = {
        "JOBSERVICE_DATABASE_URL": database_url,
        "JOBSERVICE_RABBITMQ_URL": rabbitmq_url,
        "JOBSERVICE_AMQP_PREFIX": config.amqp_prefix,
        "JOBSERVICE_WORKERS": str(config.max_job_workers),
        "JOBSERVICE_REGISTRY_URL": addr.registry_url,
        "JOBSERVICE_CORE_URL": addr.core_url,
        "JOBSERVICE_UPLOAD_PURGING_ENABLED": str(config.upload_purging_enabled).lower(),
        "JOBSERVICE_UPLOAD_PURGING_AGE_HOURS": str(config.upload_purging_age_hours),
        "JOBSERVICE_UPLOAD_PURGING_INTERVAL_HOURS": str(config.upload_purging_interval_hours),
        "JOBSERVICE_UPLOAD_PURGING_DRY_RUN": str(config.upload_purging_dry_run).lower(),
        "JOBSERVICE_UPLOAD_SPOOL_DIR": addr.upload_spool_dir,
        "JOBSERVICE_WEBHOOK_JOB_MAX_RETRY": str(config.webhook_job_max_retry),
        "JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT": str(config.webhook_job_http_client_timeout),
        "JOBSERVICE_LOG_LEVEL": level,
        "JOBSERVICE_SYSLOG_ADDRESS": addr.syslog_address,
        # The jobservice deletes abandoned uploads through the registry's storage driver.
        **{k: v for k, v in registry.items() if k.startswith("REGISTRY_STORAGE")},
    }
    log = {
        "LOG_DIRECTORY": COMPOSE_LOG_DIR if addr.log_bind == "0.0.0.0" else str(config.log_location),
        "LOG_BIND": addr.log_bind,
        "LOG_PORT": str(addr.log_port),
        "LOG_ROTATE_SIZE": str(config.log_rotate_size),
        "LOG_ROTATE_COUNT": str(config.log_rotate_count),
        "LOG_LEVEL": level,
    }
    migrations = {"MIGRATIONS_DATABASE_URL": database_url}
    return {"core": core, "registry": registry, "jobservice": jobservice, "log": log, "migrations": migrations}


def render_nginx(config: Config, addr: Addresses, tls_dir: str | None = None) -> str:
    """nginx.conf for ``addr``; ``tls_dir`` is where the proxy sees the certificate and key."""
    return TEMPLATES.get_template("nginx.conf.j2").render(
        config=config,
        addr=addr,
        fast_path=config.storage_type == "filesystem" and not config.redirect_disabled,
        tls_certificate=f"{tls_dir}/berth.crt" if tls_dir else str(config.tls_certificate),
        tls_private_key=f"{tls_dir}/berth.key" if tls_dir else str(config.tls_private_key),
        run_as_root=os.geteuid() == 0 and addr.log_bind != "0.0.0.0",
    )


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """KEY=VALUE lines as docker compose and the local supervisor read them; mode 0600."""
    lines = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: value must be on one line")
        lines.append(f"{key}={value}")
    _write_private(path, ("\n".join(lines) + "\n").encode())


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _check_nginx_can_reach(root: Path) -> None:
    """As root, nginx's workers run as www-data and must be able to enter every folder down to
    the blob storage for the fast path; say so at prepare time rather than failing pulls later."""
    if os.geteuid() != 0:
        return  # workers run as the same user as the registry
    for folder in [root, *root.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            raise ConfigError(
                f"storage_service.filesystem.rootdirectory: nginx serves blobs as www-data, which cannot enter {folder} "
                f"(mode {mode & 0o777:o}); run `chmod o+x {folder}` or put data_volume somewhere else"
            )


def prepare_local(config: Config, database_url: str, rabbitmq_url: str) -> Prepared:
    """Render the local target under the data volume."""
    addr = local_addresses(config)
    for folder in (config.data_volume, config.config_dir, config.run_dir, config.log_location, config.filesystem_root):
        folder.mkdir(parents=True, exist_ok=True)
    if config.storage_type == "filesystem" and not config.redirect_disabled:
        _check_nginx_can_reach(config.filesystem_root)
    ensure_secrets(config.secret_dir)
    return _write(config.config_dir, config.secret_dir, config, addr, database_url, rabbitmq_url, tls_dir=None)


def compose_backing_environments(database_url: str, rabbitmq_url: str) -> dict[str, dict[str, str]]:
    """Environments of the postgres and rabbitmq images, derived from the URLs so they agree."""
    db, mq = urlsplit(database_url), urlsplit(rabbitmq_url)
    return {
        "postgresql": {
            "POSTGRES_USER": unquote(db.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(db.password or ""),
            "POSTGRES_DB": unquote(db.path.lstrip("/") or "postgres"),
        },
        "rabbitmq": {
            "RABBITMQ_DEFAULT_USER": unquote(mq.username or "guest"),
            "RABBITMQ_DEFAULT_PASS": unquote(mq.password or "guest"),
            "RABBITMQ_DEFAULT_VHOST": unquote(mq.path.lstrip("/") or "/"),
        },
    }


def _generated_password(secret_dir: Path, name: str) -> str:
    """A password created once and kept in ``secret_dir`` (URL-safe, so it fits in a URL as is)."""
    path = secret_dir / name
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24).encode())
    return path.read_text().strip()


def prepare_compose(config: Config, out_dir: Path) -> Prepared:
    """Render the compose target into ``out_dir`` (deploy/generated).

    Without a configured database or broker URL, compose's own postgresql and rabbitmq services
    are used with passwords generated once and kept under ``secret/``.
    """
    addr = compose_addresses(config)
    secret_dir = out_dir / "secret"
    ensure_secrets(secret_dir)
    database_url = config.database_url or (
        f"postgresql://berth:{_generated_password(secret_dir, 'database_password')}@postgresql:5432/berth"
    )
    rabbitmq_url = config.rabbitmq_url or f"amqp://berth:{_generated_password(secret_dir, 'rabbitmq_password')}@rabbitmq:5672/berth"
    tls_dir = None
    tls = out_dir / "tls"  # always present: compose mounts it into the proxy
    tls.mkdir(parents=True, exist_ok=True)
    if config.https_enabled:
        (tls / "berth.crt").write_bytes(config.tls_certificate.read_bytes())
        _write_private(tls / "berth.key", config.tls_private_key.read_bytes())
        tls_dir = "/etc/berth/tls"
    prepared = _write(out_dir, secret_dir, config, addr, database_url, rabbitmq_url, tls_dir=tls_dir)
    for name, values in compose_backing_environments(database_url, rabbitmq_url).items():
        path = out_dir / "env" / f"{name}.env"
        write_env_file(path, values)
        prepared.env_files[name] = path
    _hand_to_container_user(prepared)
    return prepared


# The services' images run as this uid (see services/*/Dockerfile); the bind-mounted secrets and
# environment files must be readable by it and by nobody else.
CONTAINER_UID = 10000


def _hand_to_container_user(prepared: Prepared) -> None:
    if os.geteuid() != 0:
        return
    for folder in (prepared.secret_dir, prepared.out_dir / "env", prepared.out_dir / "tls"):
        if not folder.exists():
            continue
        os.chown(folder, CONTAINER_UID, CONTAINER_UID)
        for path in folder.iterdir():
            os.chown(path, CONTAINER_UID, CONTAINER_UID)


def _write(
    out_dir: Path, secret_dir: Path, config: Config, addr: Addresses, database_url: str, rabbitmq_url: str, tls_dir: str | None
) -> Prepared:
    env_dir = out_dir / "env"
    nginx_dir = out_dir / "nginx"
    env_dir.mkdir(parents=True, exist_ok=True)
    nginx_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(env_dir, 0o700)
    env_files = {}
    for service, values in service_environments(config, addr, database_url, rabbitmq_url).items():
        path = env_dir / f"{service}.env"
        write_env_file(path, values)
        env_files[service] = path
    nginx_conf = nginx_dir / "nginx.conf"
    nginx_conf.write_text(render_nginx(config, addr, tls_dir))
    return Prepared(out_dir, secret_dir, env_files, nginx_conf)
