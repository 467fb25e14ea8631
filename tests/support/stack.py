"""Run the whole Berth stack for end-to-end tests, exactly as a user does: ``berthctl up``.

The stack gets its own data folder, free loopback ports, a throwaway database on the test
PostgreSQL server and the test RabbitMQ broker; ``down`` stops it and the caller checks that
nothing is left running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

from berth_deploy import infra
from berth_deploy.infra import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
BERTHCTL = str(Path(sys.executable).parent / "berthctl")
ADMIN_PASSWORD = "Harbor12345"


@dataclasses.dataclass
class Stack:
    directory: Path
    config_path: Path
    http_port: int
    ports: dict[str, int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def registry_host(self) -> str:
        """host:port as registry clients write it in image names."""
        return f"127.0.0.1:{self.http_port}"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def berthctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [BERTHCTL, "--config", str(self.config_path), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )

    def up(self) -> None:
        result = self.berthctl("up")
        if result.returncode != 0:
            raise RuntimeError(f"berthctl up failed:\n{result.stdout}\n{result.stderr}\n{self.program_output()}")

    def down(self) -> None:
        result = self.berthctl("down")
        if result.returncode != 0:
            raise RuntimeError(f"berthctl down failed:\n{result.stdout}\n{result.stderr}")
        self.delete_queues()

    def delete_queues(self) -> None:
        """Remove this stack's queues and exchange from the shared broker (delay queues expire)."""
        import pika

        from berth_jobservice.jobs import default_registry
        from berth_jobservice.runtime.amqp import Topology
        from berth_jobservice.settings import JobserviceSettings

        config = yaml.safe_load(self.config_path.read_text())["rabbitmq"]
        topology = Topology(config["prefix"])
        job_types = default_registry(JobserviceSettings.from_env({}, database_url="-", rabbitmq_url="-")).names()
        connection = pika.BlockingConnection(pika.URLParameters(config["url"]))
        try:
            channel = connection.channel()
            for job_type in job_types:
                channel.queue_delete(topology.work_queue(job_type))
                channel.queue_delete(topology.dead_queue(job_type))
            for queue in (
                topology.webhook_events_queue,
                topology.webhook_events_dead_queue,
                topology.audit_events_queue,
                topology.audit_events_dead_queue,
            ):
                channel.queue_delete(queue)
            channel.exchange_delete(topology.events_exchange)
        finally:
            connection.close()

    def state(self) -> dict:
        return {p["name"]: p for p in json.loads((self.data / "run" / "state.json").read_text())["programs"]}

    def program_output(self, lines: int = 30) -> str:
        out = []
        for path in sorted((self.data / "log").glob("*.out")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def listening_ports(self) -> list[int]:
        return [port for port in self.ports.values() if port_open("127.0.0.1", port)]


def make_stack(directory: Path, database_url: str, rabbitmq_url: str, **overrides) -> Stack:
    """Write a berth.yml for a stack on free ports under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((ROOT / "berth.yml.example").read_text())
    ports = {"http": free_port(), "core": free_port(), "registry": free_port(), "log": free_port()}
    data.update(
        {
            "hostname": "127.0.0.1",
            "http": {"bind": "127.0.0.1", "port": ports["http"]},
            "harbor_admin_password": ADMIN_PASSWORD,
            "database": {"url": database_url, "max_open_conns": 8},
            # Its own queue names: other stacks and test sessions may share the broker.
            "rabbitmq": {"url": rabbitmq_url, "prefix": f"e2e{uuid.uuid4().hex[:8]}"},
            "data_volume": str(directory / "data"),
            "log": {"level": "info", "local": {"rotate_size": "10M", "rotate_count": 3}, "collector_port": ports["log"]},
            "internal": {"bind": "127.0.0.1", "core_port": ports["core"], "registry_port": ports["registry"],
                         "core_workers": 2, "registry_workers": 2},
        }
    )  # fmt: skip
    for key, value in overrides.items():
        data[key] = value
    config_path = directory / "berth.yml"
    config_path.write_text(yaml.safe_dump(data))
    os.chmod(config_path, 0o600)
    return Stack(directory, config_path, ports["http"], ports)


def stack_directory(label: str) -> Path:
    """A fresh folder for a stack's data that nginx's unprivileged workers can traverse.

    pytest's own temporary folders are private to root (0700), which would hide the blob files
    from nginx's fast path; this one is 0711 like a home directory.
    """
    base = Path(tempfile.gettempdir()) / "berth-e2e"
    base.mkdir(mode=0o711, exist_ok=True)
    os.chmod(base, 0o711)
    directory = base / f"{label}-{uuid.uuid4().hex[:8]}"
    directory.mkdir(mode=0o711)
    return directory


@contextlib.contextmanager
def running_stack(label: str, postgres_admin_url: str, rabbitmq_url: str, **overrides) -> Iterator[Stack]:
    """A whole stack with its own database, up for the block, then down and removed."""
    # Unique per run: two test sessions on one machine must never share (or drop) a database.
    name = f"berth_e2e_{label}_{uuid.uuid4().hex[:8]}"
    directory = stack_directory(label)
    stack = make_stack(directory, infra.ensure_database(postgres_admin_url, name), rabbitmq_url, **overrides)
    stack.up()
    try:
        yield stack
    finally:
        stack.down()
        infra.drop_database(postgres_admin_url, name)
        if not os.environ.get("BERTH_KEEP_STACK"):  # set it to read a failed run's logs afterwards
            shutil.rmtree(directory, ignore_errors=True)
