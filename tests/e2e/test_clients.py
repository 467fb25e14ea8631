"""Real clients through the proxy, as a new user would: skopeo, podman, buildah, the referrers API.

Runs against two stacks: filesystem storage (the session stack, fast path through nginx) and S3
storage (moto's S3 server). Every push is read back and its digests compared with what was sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from support.images import read_tag, write_layout
from support.oci_client import OCI_EMPTY, OCI_MANIFEST, HttpTransport, OCIClient, digest_of
from support.s3 import moto_server
from support.stack import ADMIN_PASSWORD, Stack, running_stack

ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def s3_stack(postgres_admin_url, rabbitmq_url) -> Iterator[Stack]:
    """A second stack whose registry keeps blobs in S3 (moto's standalone server)."""
    with moto_server() as server:
        bucket = f"berth-e2e-{uuid.uuid4().hex[:12]}"
        server.client().create_bucket(Bucket=bucket)
        storage = {
            "type": "s3",
            "s3": {"bucket": bucket, "region": server.region, "regionendpoint": server.endpoint_url,
                   "accesskey": server.access_key, "secretkey": server.secret_key, "chunksize": "5M"},
        }  # fmt: skip
        with running_stack("s3", postgres_admin_url, rabbitmq_url, storage_service=storage) as running:
            yield running


@pytest.fixture(params=["filesystem", "s3"])
def target(request) -> Stack:
    return request.getfixturevalue("stack" if request.param == "filesystem" else "s3_stack")


def create_project(stack: Stack, public: bool = False) -> str:
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    response = requests.post(
        f"{stack.url}/api/v2.0/projects", auth=ADMIN, timeout=30,
        json={"project_name": name, "metadata": {"public": "true" if public else "false"}},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return name


def run(*argv: str, timeout: float = 300) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def skopeo(*args: str) -> str:
    return run("skopeo", "--insecure-policy", *args)


def remote(stack: Stack, ref: str) -> str:
    return f"docker://{stack.registry_host}/{ref}"


CREDS = ("--dest-creds", f"admin:{ADMIN_PASSWORD}", "--dest-tls-verify=false")
SRC_CREDS = ("--src-creds", f"admin:{ADMIN_PASSWORD}", "--src-tls-verify=false")


def test_skopeo_copies_an_image_in_and_out_with_digests_unchanged(target, tmp_path):
    project = create_project(target)
    image = write_layout(tmp_path / "in", tag="v1", layers=3, layer_size=512 * 1024)
    skopeo("copy", *CREDS, image.reference, remote(target, f"{project}/app:v1"))

    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", f"admin:{ADMIN_PASSWORD}", remote(target, f"{project}/app:v1"))
    assert digest_of(raw.encode()) == image.digest

    skopeo("copy", *SRC_CREDS, remote(target, f"{project}/app:v1"), f"oci:{tmp_path / 'out'}:v1")
    assert read_tag(tmp_path / "out", "v1") == image.digest
    for blob in image.blobs:
        relative = Path("blobs", *blob.split(":"))
        assert (tmp_path / "out" / relative).read_bytes() == (image.path / relative).read_bytes()

    skopeo("delete", "--tls-verify=false", "--creds", f"admin:{ADMIN_PASSWORD}", remote(target, f"{project}/app@{image.digest}"))
    client = OCIClient(HttpTransport(target.url), credentials=ADMIN)
    assert client.get_manifest(f"{project}/app", image.digest).status == 404


def test_multi_architecture_index(target, tmp_path):
    project = create_project(target)
    image = write_layout(tmp_path / "multi", tag="v1", platforms=[("linux", "amd64"), ("linux", "arm64")])
    skopeo("copy", "--all", *CREDS, image.reference, remote(target, f"{project}/multi:v1"))
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", "--creds", f"admin:{ADMIN_PASSWORD}",
                            remote(target, f"{project}/multi:v1")))  # fmt: skip
    assert {m["platform"]["architecture"] for m in raw["manifests"]} == {"amd64", "arm64"}
    skopeo("copy", "--all", *SRC_CREDS, remote(target, f"{project}/multi:v1"), f"oci:{tmp_path / 'back'}:v1")
    assert read_tag(tmp_path / "back", "v1") == image.digest


def test_artifact_with_subject_is_listed_by_the_referrers_api(target, tmp_path):
    project = create_project(target)
    image = write_layout(tmp_path / "subject", tag="v1")
    skopeo("copy", *CREDS, image.reference, remote(target, f"{project}/signed:v1"))
    client = OCIClient(HttpTransport(target.url), credentials=ADMIN)
    repo = f"{project}/signed"
    payload = b'{"signature":"e2e"}'
    layer = client.push_blob(repo, payload)
    empty = client.push_blob(repo, b"{}")
    subject = client.head_manifest(repo, image.digest)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.example.signature.v1", "digest": layer, "size": len(payload)}],
        "subject": {"mediaType": subject.headers["Content-Type"], "digest": image.digest, "size": int(subject.headers["Content-Length"])},
    }
    body = json.dumps(artifact).encode()
    reply = client.put_manifest(repo, digest_of(body), body, OCI_MANIFEST)
    assert reply.status == 201 and reply.headers["OCI-Subject"] == image.digest
    index = client.referrers(repo, image.digest, artifact_type="application/vnd.example.signature").json()
    assert [m["digest"] for m in index["manifests"]] == [digest_of(body)]
    assert index["manifests"][0]["artifactType"] == "application/vnd.example.signature"


class Podman:
    """podman (or buildah) as root on this machine: vfs storage in private folders, its own auth file."""

    def __init__(self, root: Path, runroot: Path, tool: str = "podman") -> None:
        self.base = [tool, "--root", str(root / "storage"), "--runroot", str(runroot), "--storage-driver", "vfs"]
        self.env_auth = str(root / "auth.json")

    def __call__(self, *args: str) -> str:
        return run(*self.base, *args)

    def login(self, stack: Stack, user: str, password: str) -> None:
        self("login", "--tls-verify=false", "--authfile", self.env_auth, "-u", user, "-p", password, stack.registry_host)


@pytest.fixture
def tools(tmp_path) -> Iterator:
    """Factory of Podman instances; podman wants a run root shorter than 50 characters."""
    runroots: list[str] = []

    def make(name: str, tool: str = "podman") -> Podman:
        runroots.append(tempfile.mkdtemp(prefix="berth-run-"))
        return Podman(tmp_path / name, Path(runroots[-1]), tool)

    yield make
    for runroot in runroots:
        shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.parametrize("fmt", ["v2s2", "oci"])
def test_podman_push_and_pull_docker_and_oci_formats(target, tmp_path, tools, fmt):
    stack = target
    project = create_project(stack)
    podman = tools("pusher")
    image = write_layout(tmp_path / "layout", tag="v1", layers=2)
    image_id = podman("pull", "--quiet", image.reference).split()[-1]
    podman.login(stack, *ADMIN)
    ref = f"{stack.registry_host}/{project}/podman:{fmt}"
    podman("push", "--tls-verify=false", "--authfile", podman.env_auth, "--format", fmt, image_id, f"docker://{ref}")
    manifest = OCIClient(HttpTransport(stack.url), credentials=ADMIN).get_manifest(f"{project}/podman", fmt)
    expected = "application/vnd.docker.distribution.manifest.v2+json" if fmt == "v2s2" else OCI_MANIFEST
    assert manifest.status == 200 and manifest.headers["Content-Type"] == expected

    fresh = tools("puller")
    fresh.login(stack, *ADMIN)
    fresh("pull", "--tls-verify=false", "--authfile", fresh.env_auth, ref)
    assert ref in fresh("images", "--format", "{{.Repository}}:{{.Tag}}")


def test_buildah_builds_from_scratch_and_pushes(target, tmp_path, tools):
    stack = target
    project = create_project(stack)
    buildah = tools("builder", tool="buildah")
    container = buildah("from", "scratch").strip()
    (tmp_path / "hello.txt").write_text("hello from buildah\n")
    buildah("copy", container, str(tmp_path / "hello.txt"), "/hello.txt")
    buildah("commit", container, "berth-e2e-buildah")
    buildah.login(stack, *ADMIN)
    ref = f"{stack.registry_host}/{project}/built:v1"
    buildah("push", "--tls-verify=false", "--authfile", buildah.env_auth, "berth-e2e-buildah", f"docker://{ref}")
    tags = OCIClient(HttpTransport(stack.url), credentials=ADMIN).tags(f"{project}/built").json()
    assert tags["tags"] == ["v1"]


def test_blob_pull_takes_the_nginx_fast_path(stack, tmp_path):
    """Blob bytes come from nginx (sendfile), ranges included, with the registry's headers."""
    project = create_project(stack)
    client = OCIClient(HttpTransport(stack.url), credentials=ADMIN)
    data = bytes(range(256)) * 4096
    digest = client.push_blob(f"{project}/fast", data)
    whole = client.get_blob(f"{project}/fast", digest)
    assert whole.status == 200 and whole.body == data
    assert whole.headers["Docker-Content-Digest"] == digest
    assert whole.headers["Server"].startswith("nginx") and "Last-Modified" in whole.headers  # served from the file
    part = client.get_blob(f"{project}/fast", digest, byte_range="bytes=1000-1999")
    assert part.status == 206 and part.body == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"


def test_large_uploads_through_the_proxy(target, tmp_path):
    """Upload bodies of 64 KiB and more: with filesystem storage nginx spools them and the registry
    links the file into place; with S3 they stream. Either way bytes, digests and errors are the same."""
    project = create_project(target)
    repo = f"{project}/large"
    client = OCIClient(HttpTransport(target.url), credentials=ADMIN)
    token = client.transport.fetch_token(f"{target.url}/service/token", {"service": "berth-registry",
                                         "scope": f"repository:{repo}:pull,push"}, ADMIN)  # fmt: skip

    def pulled(digest: str) -> bytes:
        # Following S3's redirect to a presigned URL (requests drops the token on the way).
        reply = requests.get(f"{target.url}/v2/{repo}/blobs/{digest}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.content

    first, second = os.urandom(12 * 1024 * 1024), os.urandom(11 * 1024 * 1024 + 3)
    # Chunked: a PATCH, then a PUT with the last chunk. The client sends each without a token
    # first: the proxy must not spool those, and the registry answers 401 as it always does.
    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, first, 0).headers["Location"]
    digest = digest_of(first + second)
    reply = client.request("PUT", f"{location}?digest={digest}", body=second,
                           headers={"Content-Range": f"{len(first)}-{len(first) + len(second) - 1}"})  # fmt: skip
    assert reply.status == 201 and reply.headers["Docker-Content-Digest"] == digest
    assert pulled(digest) == first + second

    # Monolithic, by curl with its default Expect: 100-continue.
    path = tmp_path / "blob"
    path.write_bytes(second + first)
    location = client.start_upload(repo).headers["Location"]
    whole = digest_of(second + first)
    status = run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(path), "-H", f"Authorization: Bearer {token}",
                 f"{target.url}{location}?digest={whole}")  # fmt: skip
    assert status == "201"
    assert pulled(whole) == second + first

    # No token: the challenge, not a stored body.
    anonymous = requests.put(f"{target.url}{client.start_upload(repo).headers['Location']}?digest={whole}", data=first, timeout=60)
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
    spool = target.data / "registry" / "~spool"
    if storage_type(target) == "filesystem":
        assert spool.is_dir() and list(spool.iterdir()) == []  # nginx spooled there and removed its names
    else:
        assert not spool.exists()  # S3: nothing to link a file into, bodies stream


def storage_type(stack: Stack) -> str:
    return yaml.safe_load(stack.config_path.read_text()).get("storage_service", {}).get("type", "filesystem")
