"""The whole stack as a new user runs it: up, healthy through the proxy, logs collected,
a crashed service comes back, and down leaves nothing of ours running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import requests

from berth_deploy import infra
from support.stack import make_stack, stack_directory


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s; last: {last!r}")


def health(url: str) -> dict:
    return requests.get(f"{url}/api/v2.0/health", timeout=10).json()


def all_healthy(url: str) -> dict | None:
    body = health(url)
    return body if body["status"] == "healthy" else None


def test_up_health_logs_restart_and_down(postgres_admin_url, rabbitmq_url):
    name = f"berth_e2e_lifecycle_{uuid.uuid4().hex[:8]}"
    stack = make_stack(stack_directory("lifecycle"), infra.ensure_database(postgres_admin_url, name), rabbitmq_url)
    stack.up()
    try:
        body = wait_until(lambda: all_healthy(stack.url), 60, "every component healthy")
        names = {c["name"] for c in body["components"]}
        assert names == {"core", "registry", "jobservice", "database", "rabbitmq", "log"}

        # The registry answers as the OCI spec says: 401 with a Bearer challenge and the API version.
        v2 = requests.get(f"{stack.url}/v2/", timeout=10)
        assert v2.status_code == 401
        assert v2.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert v2.headers["WWW-Authenticate"].startswith(f'Bearer realm="http://127.0.0.1:{stack.http_port}/service/token"')
        assert v2.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert requests.get(f"{stack.url}/v1/_ping", timeout=10).status_code == 404
        # A refused write, which the registry logs (routine read answers are left to nginx's log).
        assert requests.post(f"{stack.url}/v2/library/app/blobs/uploads/", timeout=10).status_code == 401

        # Every service's lines reach the collector's per-service files.
        log_dir = stack.data / "log"
        for service in ("core", "registry", "jobservice", "proxy"):
            path = log_dir / f"{service}.log"
            wait_until(lambda p=path: p.exists() and p.stat().st_size > 0, 20, f"{path.name} written")
        core_line = (log_dir / "core.log").read_text().splitlines()[-1]
        assert "{" in core_line  # the JSON body of a structlog line

        # A crashed service is restarted by the supervisor and the stack is healthy again.
        victim = stack.state()["registry"]["pid"]
        os.kill(victim, signal.SIGKILL)
        restarted = lambda: stack.state()["registry"]["restarts"] >= 1 and stack.state()["registry"]["status"] == "running"  # noqa: E731
        wait_until(restarted, 60, "restart")
        assert stack.state()["registry"]["pid"] != victim
        status = wait_until(lambda: (s := stack.berthctl("status")).returncode == 0 and "health: healthy" in s.stdout and s, 60,
                            "`berthctl status` reporting healthy")  # fmt: skip
        assert "registry" in status.stdout
        pids = [p["pid"] for p in stack.state().values() if p["pid"]]
    finally:
        stack.down()
        infra.drop_database(postgres_admin_url, name)

    try:
        # Nothing of ours is left: no program, no process group, no listening port.
        for pid in pids:
            assert not _alive(pid), f"process {pid} survived `down`"
        assert stack.listening_ports() == []
        assert stack.berthctl("status").returncode == 3
    finally:
        if not os.environ.get("BERTH_KEEP_STACK"):  # set it to read a failed run's logs afterwards
            shutil.rmtree(stack.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_bad_config_stops_with_a_message_naming_the_key(tmp_path):
    stack = make_stack(tmp_path, "postgresql://postgres@127.0.0.1/none", "amqp://guest:guest@127.0.0.1/%2F", http={"port": "eighty"})
    result = stack.berthctl("up")
    assert result.returncode == 2
    assert "http.port: expected an integer, got 'eighty'" in result.stderr


def test_services_refuse_bad_settings_naming_the_variable():
    env = {**os.environ, "REGISTRY_DATABASE_URL": "postgresql://x@127.0.0.1/x", "REGISTRY_TOKEN_CERT_PATH": "/x",
           "REGISTRY_TOKEN_REALM": "http://x/service/token", "REGISTRY_PORT": "http"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", "import berth_registry.wsgi"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "REGISTRY_PORT: expected an integer, got 'http'" in result.stderr
