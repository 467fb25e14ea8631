"""deploy/compose.yml and the Dockerfiles it builds, read as files: wiring, logging, exposure,
volumes, health. (The check of compose against prepare's rendered configuration lives elsewhere.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_PATH = DEPLOY / "compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_PATH.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]

OUR_PYTHON_SERVICES = ("core", "registry", "jobservice", "log", "db-migrations")
ONE_SHOT = ("db-migrations",)
LONG_RUNNING = tuple(name for name in SERVICES if name not in ONE_SHOT)
ENV_FILES = {
    "core": "core.env",
    "registry": "registry.env",
    "jobservice": "jobservice.env",
    "log": "log.env",
    "db-migrations": "migrations.env",
}
# Ports inside the compose network (the brief's contract with prepare and the nginx template).
CONTAINER_PORTS = {"core": {"8080"}, "registry": {"5000"}, "log": {"10514/tcp", "10514/udp"}, "proxy": {"8080", "8443"}}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerfile_of(name: str) -> Path:
    build = SERVICES[name]["build"]
    return (DEPLOY / build["context"] / build["dockerfile"]).resolve()


def built_services() -> list[str]:
    return [name for name, service in SERVICES.items() if "build" in service]


def expand(text: str) -> str:
    """Compose variable interpolation with every variable unset (defaults apply)."""
    return _VARIABLE.sub(lambda match: match.group(2) or "", str(text))


def published_ports(service: dict) -> list[tuple[str, str, str]]:
    """(host address, host port, container port) for each published port; '' address = all interfaces."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            out.append((entry.get("host_ip", ""), str(entry.get("published", "")), str(entry["target"])))
            continue
        parts = expand(entry).split(":")
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            out.append(("", parts[0], parts[1]))
        else:
            out.append(("", "", parts[0]))  # container port only: docker picks a port on every interface
    return out


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(source, target, mode) for each short-syntax volume entry."""
    out = []
    for entry in service.get("volumes", []):
        parts = entry.split(":")
        out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return out


def test_the_stack_has_the_expected_services():
    assert set(SERVICES) == {"log", "postgresql", "rabbitmq", "db-migrations", "core", "registry", "jobservice", "proxy"}
    assert SERVICES["postgresql"]["image"].startswith("postgres:15")
    assert SERVICES["rabbitmq"]["image"].startswith("rabbitmq:3.12")


@pytest.mark.parametrize("name", ["core", "registry", "jobservice", "log", "db-migrations", "proxy"])
def test_each_service_builds_from_the_repository_root_with_its_own_dockerfile(name):
    build = SERVICES[name]["build"]
    assert (DEPLOY / build["context"]).resolve() == ROOT
    assert dockerfile_of(name) == ROOT / "services" / name / "Dockerfile"
    assert dockerfile_of(name).is_file()


@pytest.mark.parametrize("name", OUR_PYTHON_SERVICES)
def test_python_dockerfiles_install_only_their_own_packages_and_drop_root(name):
    instructions = dockerfile_instructions(dockerfile_of(name))
    args = {value for keyword, value in instructions if keyword == "ARG"}
    assert "PYTHON_IMAGE=python:3.11-slim" in args
    assert [value for keyword, value in instructions if keyword == "FROM"][-1] == "${PYTHON_IMAGE}"
    # The service's own package and the berth-* packages its pyproject depends on, nothing else.
    packages = {f"services/{name}"} | berth_dependencies(name)
    copied = {value.split()[0] for keyword, value in instructions if keyword == "COPY" and not value.startswith("--from")}
    assert copied - {f"services/{name}/gunicorn.conf.py"} == packages
    installs = [value for keyword, value in instructions if keyword == "RUN" and "pip install" in value]
    assert len(installs) == 1
    assert set(installs[0].split()[2:]) == {f"/src/{package}" for package in packages}
    users = [value for keyword, value in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def berth_dependencies(name: str) -> set[str]:
    """Folders of the berth-* packages a service depends on, directly or through another
    berth-* package (core needs jobservice, which needs registry)."""
    import tomllib

    folders = {"berth-migrations": "db-migrations"}
    out: set[str] = set()
    pending = [name]
    while pending:
        project = tomllib.loads((ROOT / "services" / pending.pop() / "pyproject.toml").read_text())["project"]
        for requirement in project["dependencies"]:
            package = requirement.split(">")[0].split("=")[0].split("[")[0].strip()
            if package.startswith("berth-"):
                folder = folders.get(package, package.removeprefix("berth-"))
                if "services/" + folder not in out:
                    out.add("services/" + folder)
                    pending.append(folder)
    return out


@pytest.mark.parametrize(("name", "module"), [("core", "berth_core"), ("registry", "berth_registry")])
def test_web_services_run_gunicorn_with_their_config(name, module):
    instructions = dict(dockerfile_instructions(dockerfile_of(name)))
    assert instructions["CMD"] == '["gunicorn", "--config", "/etc/berth/gunicorn.conf.py"]'
    assert f"services/{name}/gunicorn.conf.py /etc/berth/gunicorn.conf.py" in [
        value for keyword, value in dockerfile_instructions(dockerfile_of(name)) if keyword == "COPY"
    ]
    assert f'wsgi_app = "{module}.wsgi:app"' in (ROOT / "services" / name / "gunicorn.conf.py").read_text()


def test_one_shot_and_entry_points():
    assert dict(dockerfile_instructions(dockerfile_of("db-migrations")))["CMD"] == '["berth-migrate"]'
    assert dict(dockerfile_instructions(dockerfile_of("log")))["CMD"] == '["berth-log"]'
    assert dict(dockerfile_instructions(dockerfile_of("jobservice")))["CMD"] == '["berth-jobservice"]'
    assert SERVICES["db-migrations"]["restart"] == "no"


def test_proxy_is_nginx_without_root():
    instructions = dockerfile_instructions(dockerfile_of("proxy"))
    assert "NGINX_IMAGE=nginx:1.27-alpine" in [value for keyword, value in instructions if keyword == "ARG"]
    assert [value for keyword, value in instructions if keyword == "USER"][-1] not in {"0", "root"}
    assert ("./generated/nginx/nginx.conf", "/etc/nginx/nginx.conf", "ro") in mounts(SERVICES["proxy"])
    assert ("./generated/tls", "/etc/berth/tls", "ro") in mounts(SERVICES["proxy"])


@pytest.mark.parametrize("name", list(CONTAINER_PORTS))
def test_images_expose_the_ports_the_compose_network_uses(name):
    exposed = set()
    for keyword, value in dockerfile_instructions(dockerfile_of(name)):
        if keyword == "EXPOSE":
            exposed.update(value.split())
    assert exposed == CONTAINER_PORTS[name]


@pytest.mark.parametrize("name", list(SERVICES))
def test_depends_on_targets_exist_with_valid_conditions(name):
    for target, spec in SERVICES[name].get("depends_on", {}).items():
        assert target in SERVICES, f"{name} depends on unknown {target}"
        assert spec["condition"] in CONDITIONS
        if spec["condition"] == "service_healthy":
            assert has_healthcheck(target), f"{name} waits for {target} to be healthy but it has no healthcheck"
        if spec["condition"] == "service_completed_successfully":
            assert target in ONE_SHOT


@pytest.mark.parametrize("name", ["core", "registry", "jobservice"])
def test_database_users_wait_for_the_migrations(name):
    depends = SERVICES[name]["depends_on"]
    assert depends["db-migrations"]["condition"] == "service_completed_successfully"
    assert depends["postgresql"]["condition"] == "service_healthy"
    assert SERVICES["db-migrations"]["depends_on"]["postgresql"]["condition"] == "service_healthy"


def test_no_dependency_cycles():
    seen: dict[str, str] = {}

    def visit(name: str) -> None:
        if seen.get(name) == "done":
            return
        assert seen.get(name) != "visiting", f"dependency cycle through {name}"
        seen[name] = "visiting"
        for target in SERVICES[name].get("depends_on", {}):
            visit(target)
        seen[name] = "done"

    for name in SERVICES:
        visit(name)


@pytest.mark.parametrize("name", [name for name in SERVICES if name != "log"])
def test_every_service_but_log_sends_its_output_to_the_collector(name):
    logging = SERVICES[name]["logging"]
    assert logging["driver"] == "syslog"
    assert logging["options"] == {"syslog-address": "tcp://localhost:1514", "tag": name}
    # docker's syslog driver connects when the container starts: the collector must be up.
    assert SERVICES[name]["depends_on"]["log"]["condition"] == "service_healthy"


def test_log_collector_is_reachable_by_the_docker_daemon_on_loopback_only():
    assert SERVICES["log"]["logging"]["driver"] != "syslog"
    assert published_ports(SERVICES["log"]) == [("127.0.0.1", "1514", "10514")]


def test_only_the_proxy_publishes_on_a_non_loopback_address():
    for name, service in SERVICES.items():
        for address, _host_port, _target in published_ports(service):
            if name != "proxy":
                assert address in {"127.0.0.1", "::1", "[::1]"}, f"{name} publishes on {address or 'every interface'}"
    assert published_ports(SERVICES["proxy"]) == [("", "8080", "8080"), ("", "8443", "8443")]
    assert SERVICES["proxy"]["ports"] == ["${BERTH_HTTP_PORT:-8080}:8080", "${BERTH_HTTPS_PORT:-8443}:8443"]


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE["volumes"])
    assert declared == {"database", "rabbitmq", "registry", "logs"}
    used = set()
    for service in SERVICES.values():
        for source, _target, _mode in mounts(service):
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"
                used.add(source)
    assert used == declared


def test_storage_is_shared_between_registry_and_proxy_read_only():
    assert ("registry", "/storage", "rw") in mounts(SERVICES["registry"])
    assert ("registry", "/storage", "ro") in mounts(SERVICES["proxy"])
    assert ("database", "/var/lib/postgresql/data", "rw") in mounts(SERVICES["postgresql"])
    assert ("rabbitmq", "/var/lib/rabbitmq", "rw") in mounts(SERVICES["rabbitmq"])
    assert ("logs", "/var/log/berth", "rw") in mounts(SERVICES["log"])
    assert SERVICES["rabbitmq"]["hostname"] == "rabbitmq"  # its data is kept per node name


@pytest.mark.parametrize("name", list(ENV_FILES))
def test_services_read_the_env_file_prepare_renders(name):
    assert SERVICES[name]["env_file"] == f"./generated/env/{ENV_FILES[name]}"


def test_secrets_are_mounted_read_only_and_only_where_needed():
    for name, service in SERVICES.items():
        for source, target, mode in mounts(service):
            if source.startswith("./generated/secret"):
                assert mode == "ro" and target.startswith("/etc/berth/secret"), f"{name} mounts {source} {mode}"
    assert ("./generated/secret", "/etc/berth/secret", "ro") in mounts(SERVICES["core"])
    assert [m for m in mounts(SERVICES["registry"]) if "secret" in m[0]] == [
        ("./generated/secret/root.crt", "/etc/berth/secret/root.crt", "ro")
    ]
    for name in ("log", "db-migrations", "proxy", "postgresql", "rabbitmq"):
        assert not [m for m in mounts(SERVICES[name]) if "secret" in m[0]], f"{name} needs no secret"


def has_healthcheck(name: str) -> bool:
    """A compose healthcheck with a test, or one inherited from the image's HEALTHCHECK."""
    check = SERVICES[name].get("healthcheck")
    if check is None or check.get("disable"):
        return False
    if check.get("test"):
        return True
    if "build" not in SERVICES[name]:
        return False
    instructions = dockerfile_instructions(dockerfile_of(name))
    return any(keyword == "HEALTHCHECK" and not value.upper().startswith("NONE") for keyword, value in instructions)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(name):
    assert has_healthcheck(name)
    assert SERVICES[name]["restart"] == "always"


def test_variables_used_are_documented_at_the_top():
    lines = COMPOSE_PATH.read_text().splitlines(keepends=True)
    header_length = next(index for index, line in enumerate(lines) if not line.startswith("#"))
    header, body = "".join(lines[:header_length]), "".join(lines[header_length:])
    used = set(_VARIABLE.findall(body))
    assert {name for name, _default in used} == {"BERTH_HTTP_PORT", "BERTH_HTTPS_PORT", "BERTH_VERSION"}
    for name, _default in used:
        assert re.search(rf"^#\s+{name}\s", header, re.MULTILINE), f"{name} is not documented in the header"


def test_our_containers_are_locked_down():
    for name in (*OUR_PYTHON_SERVICES, "proxy"):
        service = SERVICES[name]
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
    for name in OUR_PYTHON_SERVICES:
        assert SERVICES[name]["read_only"] is True
