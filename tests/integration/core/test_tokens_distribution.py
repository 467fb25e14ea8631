"""Core's tokens against the real clients and the CNCF distribution registry.

The reference registry (``docker-registry``, distribution 2.x) is configured for token auth
with core's certificate; skopeo and podman then push, pull and log in exactly as users do.
This is the proof that the JWT format, the libtrust ``kid`` and the scope cutting work with
the tools people use, independently of Berth's own registry.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from berth_deploy.infra import free_port
from support.content import build_world
from support.servers import stop_process

SKOPEO = shutil.which("skopeo")
PODMAN = shutil.which("podman")
REGISTRY = shutil.which("docker-registry")


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


@pytest.fixture
def core_url(world):
    """Core served over real HTTP (werkzeug, threaded) for the registry's clients."""
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def registry(settings, core_url, tmp_path):
    """distribution's registry with token auth pointing at core; yields host:port."""
    for tool in (REGISTRY, SKOPEO):
        assert tool, "docker-registry and skopeo must be installed (deploy/scripts/install-system-packages test)"
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{port}"},
                "auth": {
                    "token": {
                        "realm": f"{core_url}/service/token",
                        "service": settings.token_service,
                        "issuer": settings.token_issuer,
                        "rootcertbundle": settings.token_cert_path,
                    }
                },
            }
        )
    )
    process = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "registry did not start"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process)
        process.stderr.close()


def _blob(directory: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(directory: Path, tag: str = "v1") -> Path:
    """A one-layer OCI image layout on disk, made from scratch (no network, no base image)."""
    (directory / "blobs" / "sha256").mkdir(parents=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = os.urandom(64)
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer = _blob(directory, gzip.compress(raw.getvalue()))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = _blob(
        directory,
        json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}}).encode(),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    entry = _blob(directory, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", **entry, "annotations": {"org.opencontainers.image.ref.name": tag}}
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return directory


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SKOPEO, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
    )


def creds(world, who: str) -> str:
    person = world.people[who]
    return f"{person.username}:{person.password}"


def test_push_and_pull_through_distribution_with_core_tokens(world, registry, tmp_path) -> None:
    image = oci_layout(tmp_path / "image")
    private = f"docker://{registry}/{world.private.name}/app:v1"
    public = f"docker://{registry}/{world.public.name}/app:v1"

    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds(world, "developer"), f"oci:{image}:v1", private)
    assert pushed.returncode == 0, pushed.stderr

    guest_push = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds(world, "guest"), f"oci:{image}:v1", private + "x")
    assert guest_push.returncode != 0 and ("denied" in guest_push.stderr.lower() or "unauthorized" in guest_push.stderr.lower())

    guest_pull = skopeo("inspect", "--tls-verify=false", "--creds", creds(world, "guest"), private)
    assert guest_pull.returncode == 0, guest_pull.stderr
    assert json.loads(guest_pull.stdout)["Architecture"] == "amd64"

    anonymous_private = skopeo("inspect", "--tls-verify=false", "--no-creds", private)
    assert anonymous_private.returncode != 0

    bad_password = skopeo("inspect", "--tls-verify=false", "--creds", f"{world.people['guest'].username}:Wrong1234", private)
    assert bad_password.returncode != 0

    admin_push = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds(world, "admin"), f"oci:{image}:v1", public)
    assert admin_push.returncode == 0, admin_push.stderr
    anonymous_public = skopeo("inspect", "--tls-verify=false", "--no-creds", public)
    assert anonymous_public.returncode == 0, anonymous_public.stderr


def test_robot_pushes_with_its_secret(world, registry, tmp_path) -> None:
    robot = world.client.post(
        "/api/v2.0/robots",
        json={
            "name": "ci",
            "level": "project",
            "permissions": [
                {
                    "kind": "project",
                    "namespace": world.private.name,
                    "access": [{"resource": "repository", "action": "push"}, {"resource": "repository", "action": "pull"}],
                }
            ],
        },
        headers=world.headers("project_admin"),
    ).get_json()
    image = oci_layout(tmp_path / "image")
    target = f"docker://{registry}/{world.private.name}/robot:v1"
    result = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"{robot['name']}:{robot['secret']}", f"oci:{image}:v1", target)
    assert result.returncode == 0, result.stderr


def test_podman_login(world, registry, tmp_path) -> None:
    assert PODMAN, "podman must be installed"
    person = world.people["developer"]
    authfile = tmp_path / "auth.json"
    # podman refuses a run root longer than 50 characters, so it gets a short one of its own.
    short = Path(tempfile.mkdtemp(prefix="bp", dir="/tmp"))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(short)}
    common = [PODMAN, "--storage-driver", "vfs", "--root", str(short / "root"), "--runroot", str(short / "run")]

    def login(password: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*common, "login", "--tls-verify=false", "--authfile", str(authfile), "-u", person.username, "--password-stdin", registry],
            input=password,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    try:
        ok = login(person.password)
        assert ok.returncode == 0, ok.stderr
        stored = json.loads(authfile.read_text())["auths"][registry]["auth"]
        assert base64.b64decode(stored).decode() == f"{person.username}:{person.password}"
        bad = login("Wrong1234")
        assert bad.returncode != 0
    finally:
        shutil.rmtree(short, ignore_errors=True)
