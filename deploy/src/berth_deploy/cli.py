"""``berthctl``: run Berth on this machine from berth.yml (what ``make up/down/status/logs`` call).

    berthctl --config berth.yml up        prepare, find or start PostgreSQL/RabbitMQ, migrate, start all
    berthctl --config berth.yml down      stop what `up` started, and nothing else
    berthctl --config berth.yml status    programs, pids, restarts, and component health
    berthctl --config berth.yml logs      follow the collector's per-service files
    berthctl --config berth.yml prepare   render configuration only
    berthctl --config berth.yml prepare --compose deploy/generated
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from berth_deploy import infra
from berth_deploy.config import Config, ConfigError, load
from berth_deploy.prepare import Prepared, prepare_compose, prepare_local, read_env_file

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DATABASE_NAME = "berth"
START_TIMEOUT = 240.0


def _supervisor_pid(config: Config) -> int | None:
    """The pid of our running supervisor for this data volume, or None."""
    pid_file = config.run_dir / "supervisor.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if "berth_deploy.supervisor" in cmdline and str(config.run_dir) in cmdline else None


def _infra_state(config: Config) -> dict:
    """Ports chosen for private servers, kept so every `up` reuses the same ones."""
    path = config.data_volume / "infra.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_infra_state(config: Config, state: dict) -> None:
    config.data_volume.mkdir(parents=True, exist_ok=True)
    (config.data_volume / "infra.json").write_text(json.dumps(state, indent=2))


def _running_server(
    configured: str, private_port: int | None, default_port: int, default_url: str, accepts: Callable[[str], bool]
) -> str | None:
    """The URL of a server to use as it is: the configured one, else the one on its default local
    port if it accepts us, unless an earlier `up` chose a private server (``private_port``; Berth's
    data lives there). None: start the private server."""
    if configured:
        return configured
    if private_port is None and infra.port_open("127.0.0.1", default_port) and accepts(default_url):
        return default_url
    return None


def _plan_infra(config: Config) -> tuple[str, str, list[dict]]:
    """Decide where PostgreSQL and RabbitMQ come from; returns admin DB URL, AMQP URL, programs."""
    state = _infra_state(config)
    programs: list[dict] = []
    log_dir = config.log_location
    admin_url = _running_server(config.database_url, state.get("postgres_port"), 5432, infra.DEFAULT_POSTGRES_URL, infra.postgres_accepts)
    if admin_url is None:
        port = state.setdefault("postgres_port", infra.free_port())
        pg = infra.PrivatePostgres(config.data_volume / "postgres", port)
        pg.initialise()
        admin_url = pg.url
        programs.append(
            {"name": "postgresql", "argv": pg.command(), "user": "postgres" if os.geteuid() == 0 else None,
             "ready": {"tcp": f"127.0.0.1:{port}"}, "stop_signal": "SIGINT", "log": str(log_dir / "postgresql.out")}
        )  # fmt: skip
    amqp_url = _running_server(config.rabbitmq_url, state.get("rabbitmq_port"), 5672, infra.DEFAULT_RABBITMQ_URL, infra.rabbitmq_accepts)
    if amqp_url is None:
        port = state.setdefault("rabbitmq_port", infra.free_port())
        mq = infra.PrivateRabbitMQ(config.data_volume / "rabbitmq", port)
        mq.initialise()
        amqp_url = mq.url
        programs.append(
            {"name": "rabbitmq", "argv": mq.command(), "env": mq.environment(), "cwd": str(mq.directory),
             "ready": {"tcp": f"127.0.0.1:{port}"}, "ready_timeout": 120, "stop_timeout": 60, "log": str(log_dir / "rabbitmq.out")}
        )  # fmt: skip
    _save_infra_state(config, state)
    return admin_url, amqp_url, programs


def _reachable(bind: str) -> str:
    """The address this machine reaches a server bound to ``bind`` at (loopback for a wildcard bind)."""
    return "127.0.0.1" if bind in ("0.0.0.0", "") else bind


def _service_programs(config: Config, prepared: Prepared, admin_url: str) -> list[dict]:
    env = {name: read_env_file(path) for name, path in prepared.env_files.items()}
    out = config.log_location
    connect = _reachable(config.internal_bind)
    http_host = _reachable(config.http_bind)
    proxy_port = config.https_port if config.https_enabled else config.http_port
    nginx_dir = config.run_dir / "nginx"
    nginx_dir.mkdir(parents=True, exist_ok=True)
    bootstrap_env = {"BERTH_ADMIN_DATABASE_URL": admin_url, "BERTH_DATABASE_NAME": "" if config.database_url else DATABASE_NAME}
    return [
        {"name": "log", "argv": [str(BIN / "berth-log")], "env": env["log"],
         "ready": {"tcp": f"127.0.0.1:{config.log_collector_port}"}, "log": str(out / "log.out")},
        {"name": "migrations", "argv": [str(BIN / "berthctl"), "bootstrap-db"], "env": bootstrap_env, "oneshot": True,
         "ready_timeout": 300, "log": str(out / "migrations.out")},
        {"name": "core", "argv": [str(BIN / "gunicorn"), "-c", str(REPO / "services/core/gunicorn.conf.py")], "env": env["core"],
         "ready": {"http": f"http://{connect}:{config.core_port}/api/v2.0/ping"}, "log": str(out / "core.out")},
        {"name": "registry", "argv": [str(BIN / "gunicorn"), "-c", str(REPO / "services/registry/gunicorn.conf.py")],
         "env": env["registry"], "ready": {"http": f"http://{connect}:{config.registry_port}/v2/"}, "log": str(out / "registry.out")},
        {"name": "jobservice", "argv": [str(BIN / "berth-jobservice")], "env": env["jobservice"], "log": str(out / "jobservice.out")},
        {"name": "proxy", "argv": ["nginx", "-c", str(prepared.nginx_conf), "-p", str(nginx_dir), "-g", "daemon off;"],
         "ready": {"tcp": f"{http_host}:{proxy_port}"}, "log": str(out / "proxy.out")},
    ]  # fmt: skip


def cmd_up(config: Config, args: argparse.Namespace) -> int:
    if _supervisor_pid(config):
        print(f"Berth is already running ({config.external_url}); `make status` shows its programs.")
        return 0
    print(f"preparing configuration from {config.path}")
    admin_url, amqp_url, infra_programs = _plan_infra(config)
    database_url = admin_url if config.database_url else infra.with_database(admin_url, DATABASE_NAME)
    prepared = prepare_local(config, database_url, amqp_url)
    programs = infra_programs + _service_programs(config, prepared, admin_url)
    plan = config.run_dir / "plan.json"
    plan.write_text(json.dumps({"run_dir": str(config.run_dir), "programs": programs}, indent=2))
    os.chmod(plan, 0o600)
    (config.run_dir / "ready").unlink(missing_ok=True)
    config.log_location.mkdir(parents=True, exist_ok=True)
    supervisor_log = config.log_location / "supervisor.out"
    with open(supervisor_log, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "berth_deploy.supervisor", str(plan)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO,
        )  # fmt: skip
    print("starting: " + ", ".join(p["name"] for p in programs))
    deadline = time.monotonic() + START_TIMEOUT
    while not (config.run_dir / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
                process.wait(120)
            print(f"Berth failed to start; the last lines of {supervisor_log}:", file=sys.stderr)
            print("\n".join(supervisor_log.read_text().splitlines()[-15:]), file=sys.stderr)
            print(f"each program's output is in {config.log_location}/<program>.out", file=sys.stderr)
            return 1
        time.sleep(0.3)
    print()
    print(f"Berth is up at {config.external_url}")
    print(f"  sign in as admin with the password from {config.path.name} (harbor_admin_password; default Harbor12345)")
    print(f"  docker login {config.external_url.split('://', 1)[1]}   (plain HTTP: see README, insecure-registries)")
    print("  make status | make logs | make down")
    return 0


def cmd_down(config: Config, args: argparse.Namespace) -> int:
    pid = _supervisor_pid(config)
    if pid is None:
        print("Berth is not running.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists():
        print(f"supervisor {pid} did not stop within 120s", file=sys.stderr)
        return 1
    print("Berth stopped.")
    return 0


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    pid = _supervisor_pid(config)
    if pid is None:
        print("Berth is not running.")
        return 3
    state = json.loads((config.run_dir / "state.json").read_text())
    print(f"supervisor pid {pid}")
    print(f"{'program':<12} {'status':<14} {'pid':>8} {'restarts':>9}")
    for program in state["programs"]:
        print(f"{program['name']:<12} {program['status']:<14} {program['pid'] or '-':>8} {program['restarts']:>9}")
    try:
        health = requests.get(f"{_proxy_url(config)}/api/v2.0/health", timeout=10).json()
        print(f"\nhealth: {health['status']}")
        for component in health["components"]:
            print(f"  {component['name']:<12} {component['status']}" + (f"  ({component['error']})" if component.get("error") else ""))
    except (requests.RequestException, ValueError, KeyError) as exc:
        print(f"\nhealth: unavailable ({type(exc).__name__})")
    return 0


def _proxy_url(config: Config) -> str:
    host = _reachable(config.http_bind)
    if config.https_enabled:
        return f"https://{host}:{config.https_port}"
    return f"http://{host}:{config.http_port}"


def cmd_logs(config: Config, args: argparse.Namespace) -> int:
    files = sorted(config.log_location.glob("*.log"))
    if not files:
        print(f"no log files in {config.log_location} yet")
        return 0
    argv = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [str(f) for f in files]
    return subprocess.call(argv)


def cmd_prepare(config: Config, args: argparse.Namespace) -> int:
    if args.compose:
        prepared = prepare_compose(config, Path(args.compose).resolve())
    else:
        admin_url = config.database_url or infra.DEFAULT_POSTGRES_URL
        state = _infra_state(config)
        if not config.database_url and state.get("postgres_port"):
            admin_url = infra.PrivatePostgres(config.data_volume / "postgres", state["postgres_port"]).url
        amqp_url = config.rabbitmq_url or infra.DEFAULT_RABBITMQ_URL
        if not config.rabbitmq_url and state.get("rabbitmq_port"):
            amqp_url = infra.PrivateRabbitMQ(config.data_volume / "rabbitmq", state["rabbitmq_port"]).url
        database_url = admin_url if config.database_url else infra.with_database(admin_url, DATABASE_NAME)
        prepared = prepare_local(config, database_url, amqp_url)
    print(f"rendered {len(prepared.env_files)} service environments and {prepared.nginx_conf}")
    print(f"secrets in {prepared.secret_dir} (created if absent, never replaced)")
    return 0


def cmd_bootstrap_db(_config: Config | None, _args: argparse.Namespace) -> int:
    """Create the database when we own the server, then apply migrations (a supervisor one-shot)."""
    from berth_migrations.runner import MigrationError, migrate

    admin_url = os.environ["BERTH_ADMIN_DATABASE_URL"]
    name = os.environ.get("BERTH_DATABASE_NAME", "")
    try:
        url = infra.ensure_database(admin_url, name) if name else admin_url
        migrate(url)
    except MigrationError as exc:
        print(f"migrations: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="berthctl", description="Run Berth on this machine from berth.yml.")
    parser.add_argument("--config", default=os.environ.get("BERTH_CONFIG", "berth.yml"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="prepare and start everything")
    sub.add_parser("down", help="stop what up started")
    sub.add_parser("status", help="show programs and health")
    logs = sub.add_parser("logs", help="show the per-service log files")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("--no-follow", dest="follow", action="store_false")
    prepare = sub.add_parser("prepare", help="render configuration")
    prepare.add_argument("--compose", metavar="DIR", help="render for deploy/compose.yml into DIR")
    sub.add_parser("bootstrap-db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    commands = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "logs": cmd_logs, "prepare": cmd_prepare}
    if args.command == "bootstrap-db":
        return cmd_bootstrap_db(None, args)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"berthctl: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return commands[args.command](config, args)
    except infra.InfraError as exc:
        print(f"berthctl: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
