"""Push-time policy: project existence, read-only mode, storage quota, tag immutability hooks."""

from __future__ import annotations

import json
import os
import threading

import pytest

from berth_registry.services.exceptions import Denied
from berth_registry.services.policy import READ_ONLY_MESSAGE
from berth_registry.storage import paths
from berth_registry.storage.base import PathNotFound
from support.oci_client import digest_of, expect


def used(registry, project: str | None = None) -> int:
    [(value,)] = registry.sql(
        "SELECT q.used_storage FROM quotas q JOIN projects p USING (project_id) WHERE p.name = %s", (project or registry.project,)
    )
    return value


def set_quota(registry, hard: int, project: str | None = None) -> None:
    registry.sql(
        "UPDATE quotas SET hard_storage = %s WHERE project_id = (SELECT project_id FROM projects WHERE name = %s)",
        (hard, project or registry.project),
    )


def test_push_into_a_missing_or_deleted_project_is_name_unknown(registry, new_project):
    deleted = new_project()
    registry.sql("UPDATE projects SET deleted = true WHERE name = %s", (deleted,))
    for repo in ("nosuchproject/app", f"{deleted}/app"):
        client = registry.client(repo)
        reply = client.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert reply.status == 404
        assert reply.error_codes == ["NAME_UNKNOWN"]
        assert "not found" in reply.json()["errors"][0]["message"]
        assert client.put_manifest(repo, "v1", b"{}", expect_status=404).error_codes == ["NAME_UNKNOWN"]


def test_read_only_refuses_every_write_and_allows_reads(registry):
    repo = registry.repo()
    client = registry.client(repo)
    digest, body = client.push_image(repo, "v1", [b"layer"])
    location = client.start_upload(repo).headers["Location"]
    registry.sql("INSERT INTO configurations (k, v) VALUES ('read_only', 'true')")

    writes = [
        client.request("POST", f"/v2/{repo}/blobs/uploads/"),
        client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest_of(b'x')}", body=b"x"),
        client.request("PATCH", location, body=b"chunk"),
        client.request("PUT", f"{location}?digest={digest_of(b'')}", body=b""),
        client.request("DELETE", location),
        client.put_manifest(repo, "v2", body, expect_status=403),
        client.delete_manifest(repo, "v1"),
        client.delete_manifest(repo, digest),
        client.delete_blob(repo, digest),
        client.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={repo}"),
    ]
    for reply in writes:
        assert reply.status == 403, reply.body
        assert reply.error_codes == ["DENIED"]
        assert reply.json()["errors"][0]["message"] == READ_ONLY_MESSAGE

    expect(client.get_manifest(repo, "v1"), 200)
    expect(client.tags(repo), 200)
    registry.sql("UPDATE configurations SET v = 'false' WHERE k = 'read_only'")
    expect(client.request("DELETE", location), 204)


def test_blob_over_quota_is_refused_and_nothing_is_stored(registry):
    repo = registry.repo()
    client = registry.client(repo)
    set_quota(registry, 1000)
    client.push_blob(repo, b"a" * 600)
    data = b"b" * 500
    digest = digest_of(data)

    for method in ("monolithic", "post_put", "chunked"):
        with pytest.raises(AssertionError) as refused:
            client.push_blob(repo, data, method=method, chunk_size=200)
        assert "403" in str(refused.value) and "quota exceeded" in str(refused.value)

    assert used(registry) == 600
    assert client.head_blob(repo, digest).status == 404
    assert registry.sql("SELECT count(*) FROM blobs WHERE digest = %s", (digest,)) == [(0,)]
    with pytest.raises(PathNotFound):
        registry.storage.stat(paths.blob_data(digest))
    assert registry.sql("SELECT count(*) FROM blob_uploads WHERE project_id = %s", (registry.project_id,)) == [(0,)]
    # exactly filling the quota is allowed
    client.push_blob(repo, b"c" * 400)
    assert used(registry) == 1000


def test_quota_error_message(registry):
    repo = registry.repo()
    client = registry.client(repo)
    set_quota(registry, 10)
    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest_of(b'x' * 11)}", body=b"x" * 11)
    assert reply.status == 403
    [error] = reply.json()["errors"]
    assert error["code"] == "DENIED"
    assert error["message"].startswith("quota exceeded: ")
    assert error["detail"]["hard_storage"] == 10


def test_manifest_over_quota_is_refused_and_nothing_is_stored(registry):
    repo = registry.repo()
    client = registry.client(repo)
    config = client.push_blob(repo, b"{}")
    set_quota(registry, used(registry) + 50)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [],
            "annotations": {"padding": "p" * 200},
        }
    ).encode()

    reply = client.put_manifest(repo, "v1", body, expect_status=403)

    assert reply.json()["errors"][0]["message"].startswith("quota exceeded")
    assert registry.sql("SELECT count(*) FROM artifacts WHERE repository_name = %s", (repo,)) == [(0,)]
    with pytest.raises(PathNotFound):
        registry.storage.stat(paths.blob_data(digest_of(body)))
    set_quota(registry, -1)
    client.put_manifest(repo, "v1", body)
    assert used(registry) == 2 + len(body)


def test_a_blob_counts_once_per_project(registry, new_project):
    first, second = registry.repo(), registry.repo()
    other = f"{new_project()}/app"
    client = registry.client(first, second, other)
    data = os.urandom(3000)
    client.push_blob(first, data)
    client.push_blob(second, data)
    client.push_blob(other, data)
    assert used(registry) == 3000
    assert used(registry, other.split("/")[0]) == 3000


def test_mount_into_a_full_project_is_denied(registry, new_project):
    source = registry.repo()
    target_project = new_project(hard_storage=100)
    target = f"{target_project}/app"
    client = registry.client(source, target)
    digest = client.push_blob(source, b"m" * 500)
    reply = client.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}")
    assert reply.status == 403
    assert used(registry, target_project) == 0


def test_immutability_hook_guards_tag_overwrite_and_deletes(registry):
    repo = registry.repo()
    client = registry.client(repo)
    first, _ = client.push_image(repo, "release", [b"one"])
    seen = []

    def immutable_release(cur, change):
        seen.append((change.tag, change.operation, change.current_digest))
        if change.tag == "release":
            raise Denied(f"tag {change.tag} is immutable")

    registry.app.extensions["berth.policy"].immutability_hooks.append(immutable_release)

    with pytest.raises(AssertionError, match="403"):
        client.push_image(repo, "release", [b"two"])
    assert client.delete_manifest(repo, "release").error_codes == ["DENIED"]
    assert client.delete_manifest(repo, first).error_codes == ["DENIED"]
    assert expect(client.head_manifest(repo, "release"), 200).headers["Docker-Content-Digest"] == first
    # re-pushing the same manifest under the tag is not an overwrite; other tags are free
    client.put_manifest(repo, "release", expect(client.get_manifest(repo, first), 200).body)
    client.push_image(repo, "dev", [b"three"])
    assert ("release", "overwrite", first) in seen
    assert ("release", "delete", first) in seen


def test_concurrent_pushes_never_exceed_the_quota(pooled_registry):
    """Eight parallel uploads of 400 bytes into a 2000-byte quota: exactly five fit."""
    registry = pooled_registry
    set_quota(registry, 2000)
    repo = registry.repo()
    results: list[int] = []

    def push(index: int) -> None:
        client = registry.client(repo)
        data = bytes([index]) * 400
        reply = client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest_of(data)}", body=data)
        results.append(reply.status)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [201] * 5 + [403] * 3
    assert used(registry) == 2000
    assert registry.sql("SELECT count(*) FROM project_blobs WHERE project_id = %s", (registry.project_id,)) == [(5,)]
