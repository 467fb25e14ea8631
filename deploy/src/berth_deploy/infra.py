"""Find PostgreSQL and RabbitMQ, or run private ones from the system's binaries.

The same rules serve ``make up`` and the test fixtures: a configured URL wins; else a server
answering on the default local port is used; else a private server is started with its data
under a folder of ours, on a port of ours, and stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class InfraError(RuntimeError):
    """A required server cannot be found or started; the message says what to do."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise InfraError(f"{what} did not become ready within {timeout:g}s")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name)))


def postgres_accepts(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
        return True
    except psycopg2.Error:
        return False


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` if it does not exist; returns its URL."""
    conn = psycopg2.connect(admin_url, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    conn = psycopg2.connect(admin_url, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def _unprivileged(user: str) -> tuple[Callable[[], None] | None, int | None, int | None]:
    """When root, a preexec function that drops to ``user`` (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise InfraError(f"running as root needs the system user {user!r}; install the postgresql package") from None

    def drop() -> None:
        os.setgid(entry.pw_gid)
        os.initgroups(user, entry.pw_gid)
        os.setuid(entry.pw_uid)

    return drop, entry.pw_uid, entry.pw_gid


def postgres_bindir() -> Path:
    """Directory of the newest installed PostgreSQL server binaries."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "postgres").exists()), key=lambda p: int(p.parent.name))
    if versions:
        return versions[-1]
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise InfraError("no PostgreSQL server binaries found; install the postgresql package")


class PrivatePostgres:
    """A PostgreSQL cluster of our own under ``directory``, listening on 127.0.0.1:``port``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = Path(directory)
        self.port = port
        self.datadir = self.directory / "pgdata"
        self.sockdir = self.directory / "sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def initialise(self) -> None:
        """Create the cluster once (trust auth on loopback only); a no-op if it exists."""
        drop, uid, gid = _unprivileged("postgres")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if uid is not None:
            for path in (self.directory, self.sockdir):
                os.chown(path, uid, gid)
        if (self.datadir / "PG_VERSION").exists():
            return
        subprocess.run(
            [str(postgres_bindir() / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=drop,
        )

    def command(self) -> list[str]:
        return [
            str(postgres_bindir() / "postgres"),
            "-D", str(self.datadir),
            "-p", str(self.port),
            "-k", str(self.sockdir),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=300",
            "-c", "fsync=on",
        ]  # fmt: skip

    @property
    def preexec(self) -> Callable[[], None] | None:
        return _unprivileged("postgres")[0]

    def start(self, log_path: Path) -> None:
        self.initialise()
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, preexec_fn=self.preexec, start_new_session=True)
        log.close()
        wait_for(lambda: postgres_accepts(self.url), 60, f"private PostgreSQL on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PrivateRabbitMQ:
    """A RabbitMQ node of our own under ``directory``, on 127.0.0.1:``port``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = Path(directory)
        self.port = port
        # Erlang distribution needs a second port; it may change between starts (nothing
        # outside the node uses it), so a start can pick another when this one got taken.
        self.dist_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def nodename(self) -> str:
        return f"berth-{self.port}@localhost"

    def environment(self) -> dict[str, str]:
        base = self.directory
        return {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }

    def initialise(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "enabled_plugins").write_text("[].\n")
        # Only the loopback listener exists, so guest may log in through it.
        (self.directory / "rabbitmq.conf").write_text(f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{self.port}\n")

    def command(self) -> list[str]:
        script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not script.exists():
            found = shutil.which("rabbitmq-server")
            if not found:
                raise InfraError("no RabbitMQ server found; install the rabbitmq-server package")
            script = Path(found)
        return [str(script)]

    def start(self, log_path: Path, attempts: int = 3) -> None:
        """Start the node and wait until it accepts AMQP connections.

        A node that exits while starting (its distribution port was taken by some other
        connection in the meantime, say) is started again on a fresh distribution port; the
        error after the last attempt quotes the end of the node's output.
        """
        self.initialise()
        for attempt in range(1, attempts + 1):
            if attempt > 1 or not _port_free(self.dist_port):
                self.dist_port = free_port()
            offset = log_path.stat().st_size if log_path.exists() else 0
            log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), stdout=log, stderr=log, start_new_session=True, cwd=self.directory
            )
            log.close()
            process = self.process
            try:
                wait_for(
                    lambda process=process: process.poll() is not None or rabbitmq_accepts(self.url),
                    90,
                    f"private RabbitMQ on port {self.port}",
                    interval=0.5,
                )
            except InfraError as exc:
                self.stop()
                raise InfraError(f"{exc}; its output ends:\n{_tail(log_path, offset)}") from None
            if process.poll() is None:
                return
            output = _tail(log_path, offset)
        raise InfraError(f"private RabbitMQ on port {self.port} exited while starting ({attempts} attempts); its output ends:\n{output}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _tail(path: Path, offset: int, limit: int = 2000) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")[-limit:]


def rabbitmq_accepts(url: str) -> bool:
    import pika  # imported here: only callers that probe a broker need pika

    params = pika.URLParameters(url)
    params.socket_timeout = 2
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


@contextlib.contextmanager
def postgres_server(configured: str | None, workdir: Path) -> Iterator[str]:
    """URL of an admin connection to a usable PostgreSQL server, starting a private one if needed."""
    if configured:
        if not postgres_accepts(configured):
            raise InfraError(f"PostgreSQL at the configured URL does not accept connections ({_safe(configured)})")
        yield configured
        return
    # A server on the default port that refuses us (password auth) is passed over, not an error:
    # a private server needs no credentials from the user.
    if port_open("127.0.0.1", 5432) and postgres_accepts(DEFAULT_POSTGRES_URL):
        yield DEFAULT_POSTGRES_URL
        return
    private = PrivatePostgres(workdir / "postgres", free_port())
    private.start(workdir / "postgres.log")
    try:
        yield private.url
    finally:
        private.stop()


@contextlib.contextmanager
def rabbitmq_server(configured: str | None, workdir: Path) -> Iterator[str]:
    """URL of a usable RabbitMQ broker, starting a private one if needed."""
    if configured:
        if not rabbitmq_accepts(configured):
            raise InfraError(f"RabbitMQ at the configured URL does not accept connections ({_safe(configured)})")
        yield configured
        return
    if port_open("127.0.0.1", 5672) and rabbitmq_accepts(DEFAULT_RABBITMQ_URL):
        yield DEFAULT_RABBITMQ_URL
        return
    private = PrivateRabbitMQ(workdir / "rabbitmq", free_port())
    private.start(workdir / "rabbitmq.log")
    try:
        yield private.url
    finally:
        private.stop()


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.password, "****", 1) if parts.password else url
