"""Names, tags, digests and upload ids that could escape the storage root, and the error envelope."""

from __future__ import annotations

import pytest

from berth_registry.storage.base import StorageDriver
from support.oci_client import digest_of


@pytest.mark.parametrize(
    "name",
    [
        "UPPER/app",
        "single",
        "proj/../etc",
        "proj/./app",
        "proj//app",
        "proj/app/",
        "proj/-app",
        "proj/app_",
        "proj/a..b",
        "proj/" + "a" * 251,
        "proj/%2e%2e",
    ],
)
def test_invalid_repository_names(registry, name):
    client = registry.client(name)
    for method, path in (("GET", f"/v2/{name}/tags/list"), ("POST", f"/v2/{name}/blobs/uploads/"), ("GET", f"/v2/{name}/manifests/latest")):
        reply = client.request(method, path)
        assert reply.status in (400, 404), (path, reply.status)
        assert reply.error_codes in (["NAME_INVALID"], ["NAME_UNKNOWN"]), (path, reply.body)
    assert registry.sql("SELECT count(*) FROM repositories WHERE name LIKE %s", (f"{registry.project}%",)) == [(0,)]


@pytest.mark.parametrize("name", ["a/b", "a0/b.c", "a/b__c", "a/b---c", "a/b/c/d/e", "proj/" + "a" * 250])
def test_valid_deep_and_long_names(registry, name):
    project = name.split("/")[0]
    if project != registry.project:
        registry.sql("INSERT INTO users (username) VALUES (%s) ON CONFLICT DO NOTHING", (f"owner-{project}",))
        registry.sql(
            "INSERT INTO projects (name, owner_id) SELECT %s, user_id FROM users WHERE username = %s ON CONFLICT DO NOTHING",
            (project, f"owner-{project}"),
        )
    client = registry.client(name)
    digest, body = client.push_image(name, "v1", [b"layer"])
    assert client.get_manifest(name, "v1").body == body
    assert client.tags(name).json() == {"name": name, "tags": ["v1"]}


def test_repository_component_named_like_an_endpoint(registry):
    name = f"{registry.project}/manifests/blobs/tags/uploads"
    client = registry.client(name)
    digest = client.push_blob(name, b"tricky")
    client.push_image(name, "latest", [b"x"])
    assert client.pull_blob(name, digest) == b"tricky"
    assert client.tags(name).json()["tags"] == ["latest"]


@pytest.mark.parametrize("digest", ["sha256:..%2f..%2fetc", "sha256:" + "g" * 64, "SHA256:" + "a" * 64, "sha384:" + "a" * 96])
def test_invalid_blob_digests(registry, digest):
    repo = registry.repo()
    client = registry.client(repo)
    for method in ("GET", "HEAD", "DELETE"):
        reply = client.request(method, f"/v2/{repo}/blobs/{digest}")
        assert reply.status in (400, 404)
    assert client.request("GET", f"/v2/{repo}/blobs/{digest}").error_codes in (["DIGEST_INVALID"], ["NAME_UNKNOWN"])


def test_unknown_routes_and_methods_use_the_envelope(registry):
    repo = registry.repo()
    client = registry.client(repo)
    unknown = client.request("GET", f"/v2/{repo}/nothing-here")
    assert unknown.status == 404
    assert unknown.error_codes == ["NAME_UNKNOWN"]
    assert unknown.headers["Content-Type"] == "application/json"
    wrong_method = client.request("POST", f"/v2/{repo}/manifests/latest")
    assert wrong_method.status == 405
    assert wrong_method.error_codes == ["UNSUPPORTED"]


class ExplodingStorage(StorageDriver):
    """A driver that fails like a broken disk would, with internals in the message."""

    name = "exploding"

    def _fail(self, *_args, **_kwargs):
        raise RuntimeError("disk on fire: /secret/internal/path")

    get_content = put_content = reader = writer = stat = list = move = delete = _fail


def test_server_errors_hide_the_trace(registry):
    broken = registry.with_storage(ExplodingStorage())
    repo = broken.repo()
    client = broken.client(repo)

    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest_of(b'x')}", body=b"x")

    assert reply.status == 500
    assert reply.json() == {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}
    assert b"fire" not in reply.body and b"Traceback" not in reply.body
