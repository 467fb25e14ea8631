"""The two registries under test, started by the benchmark on loopback and stopped afterwards.

* :class:`Berth`: the whole stack, started exactly as the end-to-end tests do
  (tests/support/stack.py, i.e. ``berthctl up``) on a throwaway database; the benchmark user,
  project and robot account are created through the REST API.
* :class:`Distribution`: Debian's ``docker-registry`` (CNCF distribution 2.8) with its own
  config and storage folder. When Berth runs too, distribution trusts Berth's token service
  (same realm, service, issuer and root.crt), so both systems check the same kind of token on
  every request and skopeo goes through the same login flow for both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import time
import uuid
from pathlib import Path

import requests
import yaml

from bench import tools
from bench.auth import AuthError, Challenge, challenge, fetch_token, token_claims
from bench.support import stack as support_stack
from berth_deploy import infra

PROJECT = "bench"
# The bench needs these; jobservice, RabbitMQ and the log collector are off the measured path.
NEEDED_COMPONENTS = ("core", "registry", "database")
READY_TIMEOUT = 120


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class System:
    """What the scenarios need from a registry under test."""

    name: str
    label: str
    url: str
    host: str
    auth_note: str
    credentials: Credentials | None = None  # the push/pull user; None when the registry is open
    token_challenge: Challenge | None = None
    authfile: Path | None = None  # skopeo's credentials for this registry (see :meth:`write_authfile`)

    def write_authfile(self, directory: Path) -> None:
        """Give skopeo this system's credentials through a private auth file."""
        if self.credentials is not None and self.token_challenge is not None:
            path = directory / f"auth-{self.name}.json"
            self.authfile = tools.write_authfile(path, self.host, self.credentials.username, self.credentials.password)

    def authorization(self, repository: str, actions: str = "pull,push") -> str | None:
        """An ``Authorization`` header value for ``repository``, or ``None`` for an open registry."""
        if self.token_challenge is None or self.credentials is None:
            return None
        scope = f"repository:{repository}:{actions}"
        token = fetch_token(self.token_challenge, scope, self.credentials.username, self.credentials.password)
        granted = {a for entry in token_claims(token).get("access", []) if entry.get("name") == repository for a in entry["actions"]}
        missing = set(actions.split(",")) - granted
        if missing:
            raise AuthError(f"token service refused {sorted(missing)} on {repository} to {self.credentials.username}")
        return f"Bearer {token}"

    def registry_roots(self) -> list[int]:
        """Root pids of the registry process(es) whose memory is sampled."""
        raise NotImplementedError

    def server_roots(self) -> list[int]:
        """Root pids of every server process whose CPU time is counted."""
        raise NotImplementedError


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    """Poll ``check`` until it returns something true; raise naming ``what`` and the last result."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, ValueError, KeyError) as exc:
            last = exc
        time.sleep(interval)
    raise RuntimeError(f"{what} not reached within {timeout:g}s; last: {last!r}")


class Berth(System):
    name = "berth"
    label = "Berth"

    def __init__(self, workdir: Path, admin_db_url: str, rabbitmq_url: str) -> None:
        self.workdir = workdir
        self.admin_db_url = admin_db_url
        self.rabbitmq_url = rabbitmq_url
        self.database = f"berth_bench_{uuid.uuid4().hex[:12]}"
        self.stack: support_stack.Stack | None = None
        self.admin = Credentials("admin", support_stack.ADMIN_PASSWORD)
        self.robot: Credentials | None = None
        self.auth_note = "token auth (core's /service/token), through nginx"

    def start(self) -> None:
        database_url = infra.ensure_database(self.admin_db_url, self.database)
        self.stack = support_stack.make_stack(self.workdir, database_url, self.rabbitmq_url)
        self.url, self.host = self.stack.url, self.stack.registry_host
        self.stack.up()
        self._wait_healthy()
        self.token_challenge = challenge(self.url)
        if self.token_challenge is None:
            raise AuthError("Berth answered /v2/ without asking for a token")

    def _wait_healthy(self) -> None:
        """Wait until the components on the measured path report healthy through the proxy."""
        deadline = time.monotonic() + READY_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = requests.get(f"{self.url}/api/v2.0/health", timeout=10).json()
            except (requests.RequestException, ValueError) as exc:
                last = exc
            else:
                status = {c["name"]: c["status"] for c in last.get("components", [])}
                if all(status.get(name) == "healthy" for name in NEEDED_COMPONENTS):
                    return
            time.sleep(0.5)
        raise RuntimeError(f"Berth not healthy within {READY_TIMEOUT}s; last health answer: {last!r}")

    def stop(self) -> None:
        try:
            if self.stack is not None:
                self.stack.down()
        finally:
            infra.drop_database(self.admin_db_url, self.database)

    def _api(self, method: str, path: str, expected: int, **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.url}/api/v2.0{path}", auth=(self.admin.username, self.admin.password),
                                    timeout=30, **kwargs)  # fmt: skip
        if response.status_code != expected:
            raise RuntimeError(f"{method} /api/v2.0{path} answered {response.status_code} (expected {expected}): {response.text[:300]}")
        return response

    def provision(self) -> None:
        """A regular user (developer of the bench project, which pushes and pulls) and a project robot."""
        # Harbor's password policy: an upper-case letter, a lower-case letter and a digit at least.
        user = Credentials("benchuser", f"Bench-{secrets.token_hex(10)}-9")
        self._api("POST", "/users", 201, json={"username": user.username, "email": "bench@example.com", "realname": "Benchmark",
                                               "password": user.password, "comment": "created by make bench"})  # fmt: skip
        self._api("POST", "/projects", 201, json={"project_name": PROJECT, "metadata": {"public": "false"}})
        self._api("POST", f"/projects/{PROJECT}/members", 201, json={"role_id": 2, "member_user": {"username": user.username}})
        access = [{"resource": "repository", "action": a} for a in ("pull", "push")]
        robot = self._api("POST", "/robots", 201, json={
            "name": "bench", "duration": -1, "level": "project", "disable": False, "description": "make bench",
            "permissions": [{"kind": "project", "namespace": PROJECT, "access": access}],
        }).json()  # fmt: skip
        self.credentials = user
        self.robot = Credentials(robot["name"], robot["secret"])

    def token_auth(self) -> dict[str, str]:
        """Distribution's ``auth.token`` section trusting this stack's token service."""
        assert self.stack is not None and self.token_challenge is not None and self.credentials is not None
        token = fetch_token(self.token_challenge, f"repository:{PROJECT}/probe:pull", self.credentials.username, self.credentials.password)
        return {
            "realm": self.token_challenge.realm,
            "service": self.token_challenge.service,
            "issuer": token_claims(token)["iss"],
            "rootcertbundle": str(self.stack.data / "secret" / "root.crt"),
        }

    def _program_pids(self, *names: str) -> list[int]:
        assert self.stack is not None
        state = self.stack.state()
        return [state[n]["pid"] for n in names if state.get(n, {}).get("pid")]

    def registry_roots(self) -> list[int]:
        return self._program_pids("registry")

    def python_services(self) -> dict[str, int]:
        """Gunicorn master pid of each Python service on the measured path (for --profile)."""
        return {name: pid for name in ("registry", "core") for pid in self._program_pids(name)}

    def server_roots(self) -> list[int]:
        return self._program_pids("registry", "core", "proxy")


class Distribution(System):
    name = "distribution"
    label = "distribution"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.port = infra.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.auth_note = "no auth"

    def config(self, token_auth: dict[str, str] | None) -> dict:
        """distribution's own config: filesystem storage, the default blob descriptor cache, loopback only."""
        config = {
            "version": 0.1,
            "log": {"level": "info", "fields": {"service": "registry"}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "storage")},
                "cache": {"blobdescriptor": "inmemory"},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": secrets.token_urlsafe(24), "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }
        if token_auth:
            config["auth"] = {"token": token_auth}
        return config

    def start(self, token_auth: dict[str, str] | None, credentials: Credentials | None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "config.yml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the http secret
        with os.fdopen(fd, "w") as handle:
            handle.write(yaml.safe_dump(self.config(token_auth)))
        log = open(self.workdir / "registry.log", "ab")  # noqa: SIM115 - owned by the child
        try:
            self.process = subprocess.Popen(["docker-registry", "serve", str(path)], stdout=log, stderr=log,
                                            start_new_session=True)  # fmt: skip
        finally:
            log.close()
        wait_until(lambda: self._exited() or infra.port_open("127.0.0.1", self.port), 30, "distribution listening")
        self.token_challenge = challenge(self.url)
        if token_auth and self.token_challenge is None:
            raise AuthError("distribution configured for token auth answered /v2/ without a challenge")
        self.credentials = credentials if token_auth else None
        if token_auth:
            self.auth_note = "token auth (Berth core's /service/token, same root.crt)"
            # Prove distribution accepts Berth's tokens before measuring anything with them.
            header = self.authorization(f"{PROJECT}/probe", "pull")
            answer = requests.get(f"{self.url}/v2/", headers={"Authorization": header}, timeout=10)
            if answer.status_code != 200:
                raise AuthError(f"distribution refused a Berth token on /v2/ ({answer.status_code}): {answer.text[:200]}")

    def _exited(self) -> bool:
        """False while the process runs; raises with its log when it has stopped (a bad config, a taken port)."""
        assert self.process is not None
        if self.process.poll() is None:
            return False
        tail = (self.workdir / "registry.log").read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"docker-registry exited {self.process.returncode}: {' / '.join(tail)}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def registry_roots(self) -> list[int]:
        return [self.process.pid] if self.process and self.process.poll() is None else []

    def server_roots(self) -> list[int]:
        return self.registry_roots()
