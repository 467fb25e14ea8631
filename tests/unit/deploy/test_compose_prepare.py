"""deploy/compose.yml agrees with what `prepare --compose` renders: files, ports, paths, volumes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth_deploy import prepare as prep
from berth_deploy.config import parse
from berth_deploy.prepare import prepare_compose, read_env_file

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "deploy" / "compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture
def rendered(tmp_path):
    config = parse(yaml.safe_load((ROOT / "berth.yml.example").read_text()), tmp_path / "berth.yml")
    out = tmp_path / "deploy" / "generated"
    return prepare_compose(config, out)


def host_path(source: str, rendered) -> Path:
    """Map a compose bind source (relative to deploy/) onto the rendered folder."""
    assert source.startswith("./generated/"), source
    return rendered.out_dir / source.removeprefix("./generated/")


def mounts(service: dict) -> dict[str, str]:
    """Container path -> source for every volume of a service."""
    out = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        out[target] = source
    return out


def env(rendered, name: str) -> dict[str, str]:
    return read_env_file(rendered.env_files[name])


def test_every_env_file_and_bind_mount_is_rendered(compose, rendered):
    for name, service in compose["services"].items():
        if "env_file" in service:
            files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
            for item in files:
                assert host_path(item, rendered).is_file(), f"{name}: {item} is not rendered by prepare"
        for source in mounts(service).values():
            if source.startswith("./"):
                assert host_path(source, rendered).exists(), f"{name}: {source} is not rendered by prepare"


def test_service_ports_agree(compose, rendered):
    assert env(rendered, "core")["CORE_PORT"] == str(prep.COMPOSE_CORE_PORT)
    assert env(rendered, "registry")["REGISTRY_PORT"] == str(prep.COMPOSE_REGISTRY_PORT)
    assert env(rendered, "core")["CORE_REGISTRY_URL"] == f"http://registry:{prep.COMPOSE_REGISTRY_PORT}"
    assert env(rendered, "log")["LOG_PORT"] == str(prep.COMPOSE_LOG_PORT)
    assert compose["services"]["log"]["ports"] == [f"127.0.0.1:1514:{prep.COMPOSE_LOG_PORT}"]
    published = [p.split(":")[-1] for p in compose["services"]["proxy"]["ports"]]
    assert published == [str(prep.COMPOSE_PROXY_HTTP_PORT), str(prep.COMPOSE_PROXY_HTTPS_PORT)]
    nginx = rendered.nginx_conf.read_text()
    assert f"listen {prep.COMPOSE_PROXY_HTTP_PORT};" in nginx
    assert f"server core:{prep.COMPOSE_CORE_PORT};" in nginx and f"server registry:{prep.COMPOSE_REGISTRY_PORT};" in nginx


def test_storage_volume_is_where_registry_and_proxy_expect_it(compose, rendered):
    root = env(rendered, "registry")["REGISTRY_STORAGE__FILESYSTEM__ROOT"]
    assert mounts(compose["services"]["registry"])[root] == "registry"
    assert mounts(compose["services"]["proxy"])[root] == "registry"
    assert f"alias {root}/;" in rendered.nginx_conf.read_text()
    assert env(rendered, "jobservice")["REGISTRY_STORAGE__FILESYSTEM__ROOT"] == root


def test_secrets_are_mounted_where_the_services_read_them(compose, rendered):
    core_env = env(rendered, "core")
    core_mounts = mounts(compose["services"]["core"])
    for key in ("CORE_TOKEN_PRIVATE_KEY_PATH", "CORE_TOKEN_CERT_PATH", "CORE_SECRET_KEY_PATH"):
        directory = str(Path(core_env[key]).parent)
        assert core_mounts[directory] == "./generated/secret", key
        assert (rendered.secret_dir / Path(core_env[key]).name).is_file()
    cert = env(rendered, "registry")["REGISTRY_TOKEN_CERT_PATH"]
    assert mounts(compose["services"]["registry"])[cert] == "./generated/secret/root.crt"


def test_logs_volume_holds_the_collector_folder(compose, rendered):
    assert mounts(compose["services"]["log"])[env(rendered, "log")["LOG_DIRECTORY"]] == "logs"


def test_backing_services_share_credentials_with_berth(rendered):
    db = env(rendered, "postgresql")
    url = env(rendered, "core")["CORE_DATABASE_URL"]
    assert url == f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgresql:5432/{db['POSTGRES_DB']}"
    assert len(db["POSTGRES_PASSWORD"]) >= 24
    mq = env(rendered, "rabbitmq")
    assert env(rendered, "jobservice")["JOBSERVICE_RABBITMQ_URL"] == (
        f"amqp://{mq['RABBITMQ_DEFAULT_USER']}:{mq['RABBITMQ_DEFAULT_PASS']}@rabbitmq:5672/{mq['RABBITMQ_DEFAULT_VHOST']}"
    )
    assert env(rendered, "migrations")["MIGRATIONS_DATABASE_URL"] == url


def test_no_duplicate_log_forwarding_in_containers(rendered):
    for service in ("core", "registry", "jobservice"):
        assert env(rendered, service)[f"{service.upper()}_SYSLOG_ADDRESS"] == ""
    assert "syslog:server" not in rendered.nginx_conf.read_text()


def test_generated_passwords_survive_a_second_prepare(tmp_path):
    config = parse(yaml.safe_load((ROOT / "berth.yml.example").read_text()), tmp_path / "berth.yml")
    first = read_env_file(prepare_compose(config, tmp_path / "g").env_files["postgresql"])
    second = read_env_file(prepare_compose(config, tmp_path / "g").env_files["postgresql"])
    assert first == second
