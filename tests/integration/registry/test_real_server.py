"""The registry as it runs in production: gunicorn with its real config, real clients, real nginx.

* skopeo copies OCI layouts (single image and multi-architecture index) into the registry and
  back with digests unchanged, and deletes by digest;
* a PATCH whose connection drops keeps the bytes that arrived;
* a 256 MiB chunked-encoding upload keeps the worker's memory flat (RSS sampled);
* behind nginx with the blob fast path, nginx serves the bytes (and ranges) from the file the
  registry names in X-Accel-Redirect.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg2
import pytest
import requests

from berth_deploy.infra import free_port, port_open
from support.images import read_tag, write_layout
from support.oci_client import HttpTransport, OCIClient, digest_of, expect
from support.tokens import TokenKeys, access

REGISTRY_DIR = Path(__file__).resolve().parents[3] / "services" / "registry"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
START_TIMEOUT = 30.0


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def server_project(database_url: str) -> Iterator[str]:
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (username) VALUES (%s) RETURNING user_id", (f"srv-owner-{os.urandom(3).hex()}",))
        owner = cur.fetchone()[0]
        name = f"srv{os.urandom(3).hex()}"
        cur.execute("INSERT INTO projects (name, owner_id) VALUES (%s, %s) RETURNING project_id", (name, owner))
        project_id = cur.fetchone()[0]
        cur.execute("INSERT INTO quotas (project_id) VALUES (%s)", (project_id,))
    yield name
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM outbox WHERE ordering_key LIKE %s", (f"{name}/%",))
        cur.execute("DELETE FROM audit_log WHERE project_id = %s", (project_id,))
        cur.execute("DELETE FROM blob_uploads WHERE project_id = %s", (project_id,))
        # index -> child edges first: the child FK does not cascade
        cur.execute(
            "DELETE FROM artifact_references WHERE child_id IN (SELECT artifact_id FROM artifacts WHERE project_id = %s)", (project_id,)
        )
        cur.execute("DELETE FROM repositories WHERE project_id = %s", (project_id,))
        cur.execute(
            "DELETE FROM blobs WHERE blob_id IN (SELECT blob_id FROM project_blobs WHERE project_id = %s)"
            " AND blob_id NOT IN (SELECT blob_id FROM project_blobs WHERE project_id <> %s)",
            (project_id, project_id),
        )
        cur.execute("DELETE FROM projects WHERE project_id = %s", (project_id,))
    conn.close()


class Server:
    def __init__(self, port: int, process: subprocess.Popen, root: Path, keys: TokenKeys, project: str) -> None:
        self.port = port
        self.process = process
        self.root = root
        self.keys = keys
        self.project = project

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def token(self, repo: str, *actions: str) -> str:
        return self.keys.mint([access(repo, *(actions or ("*",)))])

    def client(self, repo: str) -> OCIClient:
        return OCIClient(HttpTransport(f"http://{self.host}"), token=self.token(repo))

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])


class TokenService:
    """A stand-in for core's token service: grants every scope asked for, records the requests."""

    def __init__(self, keys: TokenKeys) -> None:
        self.keys = keys
        self.requests: list[dict[str, list[str]]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = parse_qs(urlsplit(self.path).query)
                query["authorization"] = [self.headers.get("Authorization", "")]
                service.requests.append(query)
                grants = []
                for scope in " ".join(query.get("scope", [])).split():
                    resource_type, name, actions = scope.split(":")
                    grants.append({"type": resource_type, "name": name, "actions": actions.split(",")})
                body = json.dumps({"token": service.keys.mint(grants, sub="skopeo-user")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/service/token"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def start_registry(tmp: Path, database_url: str, keys: TokenKeys, project: str, realm: str | None = None, **env: str) -> Server:
    port = free_port()
    root = tmp / "storage"
    log = tmp / "gunicorn.log"
    environment = {
        **os.environ,
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_TOKEN_CERT_PATH": str(keys.cert_path),
        "REGISTRY_TOKEN_REALM": realm or f"http://127.0.0.1:{port}/service/token",
        "REGISTRY_STORAGE_DRIVER": "filesystem",
        "REGISTRY_STORAGE__FILESYSTEM__ROOT": str(root),
        "REGISTRY_FAST_PATH": "false",
        "REGISTRY_BIND": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_WORKERS": "1",
        "REGISTRY_THREADS": "4",
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_PULL_FLUSH_SECONDS": "0.2",
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [GUNICORN, "-c", str(REGISTRY_DIR / "gunicorn.conf.py")], env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=tmp
        )
    try:
        wait_for_port(port, process, log)
    except BaseException:
        stop(process)
        raise
    return Server(port, process, root, keys, project)


@pytest.fixture(scope="module")
def token_service(token_keys: TokenKeys) -> Iterator[TokenService]:
    service = TokenService(token_keys)
    yield service
    service.close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory, database_url: str, token_keys: TokenKeys, server_project: str, token_service: TokenService
) -> Iterator[Server]:
    running = start_registry(tmp_path_factory.mktemp("registry-server"), database_url, token_keys, server_project, token_service.realm)
    yield running
    stop(running.process)


def skopeo(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("platforms", [[("linux", "amd64")], [("linux", "amd64"), ("linux", "arm64")]], ids=["image", "index"])
def test_skopeo_copies_in_and_out_with_digests_unchanged(server, tmp_path, platforms):
    repo = f"{server.project}/skopeo-{len(platforms)}"
    image = write_layout(tmp_path / "source", tag="v1", platforms=platforms)
    token = server.token(repo)

    skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-registry-token",
        token,
        image.reference,
        f"docker://{server.host}/{repo}:v1",
    )

    client = server.client(repo)
    reply = expect(client.get_manifest(repo, "v1"), 200)
    assert reply.headers["Docker-Content-Digest"] == image.digest
    assert reply.headers["Content-Type"] == image.media_type
    for digest in image.manifests.values():
        client.pull_image(repo, digest)
    assert expect(client.tags(repo), 200).json()["tags"] == ["v1"]

    skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-registry-token",
        token,
        f"docker://{server.host}/{repo}:v1",
        f"oci:{tmp_path / 'copy'}:v1",
    )
    assert read_tag(tmp_path / "copy", "v1") == image.digest
    for digest in [*image.blobs, *image.manifests.values()]:
        assert (tmp_path / "copy" / "blobs" / "sha256" / digest[7:]).read_bytes() == (
            image.path / "blobs" / "sha256" / digest[7:]
        ).read_bytes()

    inspected = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", "--registry-token", token, f"docker://{server.host}/{repo}:v1").stdout
    )
    assert inspected["mediaType"] == image.media_type


def test_skopeo_follows_the_bearer_challenge(server, token_service, tmp_path):
    """With credentials instead of a token, skopeo gets the 401 challenge, asks the realm, retries."""
    repo = f"{server.project}/challenged"
    image = write_layout(tmp_path / "source", tag="v1")
    token_service.requests.clear()

    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "someone:secret", image.reference, f"docker://{server.host}/{repo}:v1")

    scopes = [scope for request in token_service.requests for scope in request.get("scope", [])]
    assert f"repository:{repo}:pull,push" in scopes
    assert all(request["service"] == ["berth-registry"] for request in token_service.requests)
    assert token_service.requests[0]["authorization"][0].startswith("Basic ")
    assert expect(server.client(repo).get_manifest(repo, "v1"), 200).headers["Docker-Content-Digest"] == image.digest


def test_skopeo_delete(server, tmp_path):
    repo = f"{server.project}/deleted"
    image = write_layout(tmp_path / "source", tag="gone")
    token = server.token(repo)
    skopeo("copy", "--dest-tls-verify=false", "--dest-registry-token", token, image.reference, f"docker://{server.host}/{repo}:gone")

    skopeo("delete", "--tls-verify=false", "--registry-token", token, f"docker://{server.host}/{repo}@{image.digest}")

    assert server.client(repo).get_manifest(repo, "gone").status == 404


def test_dropped_connection_keeps_what_arrived(server):
    repo = f"{server.project}/dropped"
    client = server.client(repo)
    location = client.start_upload(repo).headers["Location"]
    data = os.urandom(10_000)

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("PATCH", location)
    connection.putheader("Authorization", f"Bearer {server.token(repo)}")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", "20000")
    connection.endheaders()
    connection.send(data)
    connection.sock.shutdown(socket.SHUT_WR)  # the client goes away mid-body
    try:
        connection.getresponse().read()
    except (http.client.HTTPException, OSError):
        pass
    connection.close()

    deadline = time.monotonic() + 10
    while True:
        status = client.request("GET", location)
        if status.status == 204 or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # the server may still be releasing the session
    assert expect(status, 204).headers["Range"] == "0-9999"
    reply = client.request("PUT", f"{location}?digest={digest_of(data + b'rest')}", body=b"rest")
    expect(reply, 201)


def test_stopping_a_worker_writes_its_buffered_pulls(tmp_path, database_url, token_keys, server_project):
    registry = start_registry(tmp_path, database_url, token_keys, server_project, REGISTRY_PULL_FLUSH_SECONDS="60")
    repo = f"{server_project}/pulled-at-exit"
    try:
        client = registry.client(repo)
        client.push_image(repo, "v1", [b"layer"])
        for _ in range(3):
            expect(client.get_manifest(repo, "v1"), 200)
    finally:
        stop(registry.process)  # SIGTERM: gunicorn's graceful stop
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pull_count FROM repositories WHERE name = %s", (repo,))
        assert cur.fetchone() == (3,)
    conn.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_large_streamed_upload_keeps_memory_flat(server):
    repo = f"{server.project}/big"
    client = server.client(repo)
    client.push_blob(repo, b"warm up")  # load every code path once before measuring
    worker = server.worker_pid()
    idle = rss_kib(worker)
    block = os.urandom(1024 * 1024)
    total_blocks = 256
    digest = "sha256:" + hashlib.sha256(block * total_blocks).hexdigest()
    peak = idle
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(worker))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        location = client.start_upload(repo).headers["Location"]
        # A generator body goes out with chunked transfer encoding, as docker streams layers.
        response = requests.patch(
            f"http://{server.host}{location}",
            data=(block for _ in range(total_blocks)),
            headers={"Authorization": f"Bearer {server.token(repo)}", "Content-Type": "application/octet-stream"},
            timeout=300,
        )
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{total_blocks * 1024 * 1024 - 1}"
        expect(client.request("PUT", f"{response.headers['Location']}?digest={digest}", body=b""), 201)
    finally:
        done.set()
        sampler.join()
    growth_mib = (peak - idle) / 1024
    assert growth_mib < 50, f"worker RSS grew by {growth_mib:.1f} MiB during a 256 MiB upload"
    assert expect(client.head_blob(repo, digest), 200).headers["Content-Length"] == str(total_blocks * 1024 * 1024)


NGINX_CONF = """
user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location /v2/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
        }}
        location /_blobstore/ {{
            internal;
            alias {root}/;
            # After an internal redirect nginx keeps only a few upstream headers; pass ours on.
            add_header Docker-Content-Digest $upstream_http_docker_content_digest always;
            add_header X-Request-Id $upstream_http_x_request_id always;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def fast_path_stack(tmp_path_factory, database_url: str, token_keys: TokenKeys, server_project: str) -> Iterator[tuple[Server, int]]:
    """gunicorn with the fast path on, behind nginx configured as the proxy will be."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = tmp_path_factory.mktemp("fast-path")
    registry = start_registry(tmp, database_url, token_keys, server_project, REGISTRY_FAST_PATH="true")
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=registry.port, root=registry.root))
    log = tmp / "nginx.out"
    with log.open("wb") as output:
        process = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"], stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield registry, port
    finally:
        stop(process)
        stop(registry.process)


def test_fast_path_hands_blobs_to_nginx(fast_path_stack):
    registry, nginx_port = fast_path_stack
    repo = f"{registry.project}/fast"
    data = os.urandom(100_000)
    direct = registry.client(repo)
    digest = direct.push_blob(repo, data)

    # The registry itself answers with an empty body and the internal redirect...
    answer = expect(direct.get_blob(repo, digest), 200)
    assert answer.body == b""
    relative = f"docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data"
    assert answer.headers["X-Accel-Redirect"] == f"/_blobstore/{relative}"
    assert answer.headers["Docker-Content-Digest"] == digest
    assert (registry.root / relative).read_bytes() == data

    # ...and through nginx the client gets the bytes, ranges included.
    proxied = OCIClient(HttpTransport(f"http://127.0.0.1:{nginx_port}"), token=registry.token(repo))
    assert proxied.pull_blob(repo, digest) == data
    assert proxied.get_blob(repo, digest).headers["Content-Type"] == "application/octet-stream"
    partial = proxied.get_blob(repo, digest, "bytes=1000-1999")
    assert partial.status == 206
    assert partial.body == data[1000:2000]
    assert partial.headers["Content-Range"] == "bytes 1000-1999/100000"
    # the internal location is not reachable from outside
    assert requests.get(f"http://127.0.0.1:{nginx_port}/_blobstore/{relative}", timeout=10).status_code == 404
