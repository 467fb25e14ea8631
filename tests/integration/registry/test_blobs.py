"""Blob endpoints: every upload method, both digest algorithms, ranges, mounts, cancel, delete."""

from __future__ import annotations

import os

import pytest

from berth_registry.storage import paths
from berth_registry.storage.base import PathNotFound
from support.oci_client import digest_of, expect


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("method", ["monolithic", "post_put", "chunked", "stream"])
def test_every_upload_method_stores_the_blob(registry, method, algorithm):
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(300_000)

    digest = client.push_blob(repo, data, method=method, chunk_size=100_000, algorithm=algorithm)

    assert client.pull_blob(repo, digest) == data
    head = expect(client.head_blob(repo, digest), 200)
    assert head.body == b""
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    assert registry.sql("SELECT size FROM blobs WHERE digest = %s", (digest,)) == [(len(data),)]
    assert registry.sql("SELECT count(*) FROM blob_uploads WHERE project_id = %s", (registry.project_id,)) == [(0,)]


def test_empty_blob_and_empty_json(registry):
    repo = registry.repo()
    client = registry.client(repo)
    for data in (b"", b"{}"):
        digest = client.push_blob(repo, data, method="post_put")
        assert client.pull_blob(repo, digest) == data
        assert expect(client.head_blob(repo, digest), 200).headers["Content-Length"] == str(len(data))


def test_missing_blob_is_blob_unknown(registry):
    repo = registry.repo()
    client = registry.client(repo)
    digest = digest_of(b"never pushed")
    for reply in (client.get_blob(repo, digest), client.head_blob(repo, digest)):
        assert reply.status == 404
    assert client.get_blob(repo, digest).error_codes == ["BLOB_UNKNOWN"]


@pytest.mark.parametrize(
    ("header", "status", "content_range", "part"),
    [
        ("bytes=500-1499", 206, "bytes 500-1499/2048", slice(500, 1500)),
        ("bytes=500-", 206, "bytes 500-2047/2048", slice(500, None)),
        ("bytes=-500", 206, "bytes 1548-2047/2048", slice(1548, None)),
        ("bytes=2000-5000", 206, "bytes 2000-2047/2048", slice(2000, None)),
        ("bytes=500-0", 416, "bytes */2048", None),
        ("bytes=5000-10000", 416, "bytes */2048", None),
    ],
)
def test_range_requests(registry, header, status, content_range, part):
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(2048)
    digest = client.push_blob(repo, data)

    reply = client.get_blob(repo, digest, header)

    assert reply.status == status
    assert reply.headers["Content-Range"] == content_range
    if part is not None:
        assert reply.body == data[part]
        assert reply.headers["Content-Length"] == str(len(data[part]))
    else:
        assert reply.error_codes == ["RANGE_INVALID"]


def test_out_of_order_chunk_is_416_and_the_upload_stays_usable(registry):
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(30_000)
    digest = digest_of(data)
    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, data[:10_000], 0).headers["Location"]

    for start in (20_000, 0, 5_000):  # ahead, back to the start, overlapping
        reply = client.request(
            "PATCH",
            location,
            headers={"Content-Range": f"{start}-{start + 9_999}", "Content-Type": "application/octet-stream"},
            body=data[start : start + 10_000],
        )
        assert reply.status == 416
        assert reply.headers["Range"] == "0-9999"
        assert reply.headers["Location"] == location

    status = expect(client.request("GET", location), 204)
    assert status.headers["Range"] == "0-9999"
    assert status.headers["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]

    # The out-of-order last chunk sent with PUT is refused the same way.
    reply = client.request("PUT", f"{location}?digest={digest}", headers={"Content-Range": "20000-29999"}, body=data[20_000:])
    assert reply.status == 416

    location = client.patch_chunk(location, data[10_000:20_000], 10_000).headers["Location"]
    reply = client.request("PUT", f"{location}?digest={digest}", headers={"Content-Range": "20000-29999"}, body=data[20_000:])
    expect(reply, 201)
    assert client.pull_blob(repo, digest) == data


def test_digest_mismatch_is_digest_invalid_and_ends_the_session(registry):
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    wrong = digest_of(b"something else")

    reply = client.request("PUT", f"{location}?digest={wrong}", body=b"actual bytes")

    assert reply.status == 400
    assert reply.error_codes == ["DIGEST_INVALID"]
    assert client.request("GET", location).error_codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert client.head_blob(repo, wrong).status == 404
    upload_id = location.rsplit("/", 1)[1]
    for path in (paths.blob_data(wrong), paths.upload_data(upload_id)):
        with pytest.raises(PathNotFound):
            registry.storage.stat(path)


def test_digest_mismatch_after_chunks_with_other_algorithm(registry):
    """A sha512 digest after sha256-hashed chunks is checked by rehashing storage."""
    repo = registry.repo()
    client = registry.client(repo)
    data = os.urandom(50_000)
    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, data, 0).headers["Location"]
    good = digest_of(data, "sha512")

    expect(client.request("PUT", f"{location}?digest={good}", body=b""), 201)
    assert client.pull_blob(repo, good) == data

    location = client.start_upload(repo).headers["Location"]
    location = client.patch_chunk(location, data, 0).headers["Location"]
    reply = client.request("PUT", f"{location}?digest={digest_of(data + b'x', 'sha512')}", body=b"")
    assert reply.error_codes == ["DIGEST_INVALID"]


@pytest.mark.parametrize("digest", ["", "sha256:abc", "md5:" + "0" * 32, "sha256:" + "A" * 64, "sha256:../../../etc/passwd"])
def test_invalid_digest_on_finish(registry, digest):
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    reply = client.request("PUT", f"{location}?digest={digest}", body=b"data")
    assert reply.status == 400
    assert reply.error_codes == ["DIGEST_INVALID"]
    # the session is still there: nothing was consumed
    expect(client.request("GET", location), 204)


def test_content_range_and_length_must_agree(registry):
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    reply = client.request("PATCH", location, headers={"Content-Range": "0-99"}, body=b"x" * 10)
    assert reply.status == 400
    assert reply.error_codes == ["SIZE_INVALID"]
    reply = client.request("PATCH", location, headers={"Content-Range": "junk"}, body=b"x" * 10)
    assert reply.error_codes == ["BLOB_UPLOAD_INVALID"]


def test_cancel_upload(registry):
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    client.patch_chunk(location, b"partial", 0)

    expect(client.request("DELETE", location), 204)

    assert client.request("GET", location).error_codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert client.request("DELETE", location).status == 404
    assert registry.sql("SELECT count(*) FROM blob_uploads WHERE project_id = %s", (registry.project_id,)) == [(0,)]


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "..", "00000000-0000-0000-0000-000000000000"])
def test_unknown_upload_is_blob_upload_unknown(registry, upload_id):
    repo = registry.repo()
    client = registry.client(repo)
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        reply = client.request(method, f"/v2/{repo}/blobs/uploads/{upload_id}?digest={digest_of(b'')}", body=b"")
        assert reply.status == 404, (method, reply.body)
        assert reply.error_codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_upload_of_another_repository_is_unknown(registry):
    first, second = registry.repo(), registry.repo()
    client = registry.client(first, second)
    location = client.start_upload(first).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    assert client.request("GET", f"/v2/{second}/blobs/uploads/{upload_id}").error_codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_cross_repository_mount(registry):
    source, target = registry.repo(), registry.repo()
    client = registry.client(source, target)
    digest = client.push_blob(source, b"shared layer")

    reply = client.mount(target, digest, source)

    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/{target}/blobs/{digest}"
    assert client.pull_blob(target, digest) == b"shared layer"


def test_mount_from_another_project_links_and_charges_it(registry, new_project):
    other_repo = registry.repo()
    client = registry.client(other_repo)
    digest = client.push_blob(other_repo, b"x" * 1000)
    second_project = new_project()
    target = f"{second_project}/app"
    client = registry.client(other_repo, target)

    assert client.mount(target, digest, other_repo).status == 201

    assert registry.sql("SELECT q.used_storage FROM quotas q JOIN projects p USING (project_id) WHERE p.name = %s", (second_project,)) == [
        (1000,)
    ]
    assert client.pull_blob(target, digest) == b"x" * 1000


def test_anonymous_mount_within_the_project(registry):
    source, target = registry.repo(), registry.repo()
    client = registry.client(source, target)
    digest = client.push_blob(source, b"layer for anonymous mount")

    reply = client.mount(target, digest)

    assert reply.status == 201


def test_mount_of_missing_blob_starts_an_upload(registry):
    source, target = registry.repo(), registry.repo()
    client = registry.client(source, target)
    data = b"not there yet"
    digest = digest_of(data)

    reply = client.mount(target, digest, source)

    assert reply.status == 202
    location = reply.headers["Location"]
    expect(client.request("PUT", f"{location}?digest={digest}", body=data), 201)


def test_mount_without_pull_on_the_source_falls_back_to_an_upload(registry):
    source, target = registry.repo(), registry.repo()
    digest = registry.client(source).push_blob(source, b"secret layer")
    client = registry.client(target)  # no access to source at all

    assert client.mount(target, digest, source).status == 202


def test_blob_delete_unlinks_from_the_project_and_refunds_quota(registry):
    repo = registry.repo()
    client = registry.client(repo)
    digest = client.push_blob(repo, b"z" * 500)
    assert registry.sql("SELECT used_storage FROM quotas WHERE project_id = %s", (registry.project_id,)) == [(500,)]

    assert client.delete_blob(repo, digest).status == 202

    assert client.head_blob(repo, digest).status == 404
    assert client.delete_blob(repo, digest).error_codes == ["BLOB_UNKNOWN"]
    assert registry.sql("SELECT used_storage FROM quotas WHERE project_id = %s", (registry.project_id,)) == [(0,)]


def test_same_blob_is_stored_once(registry):
    first, second = registry.repo(), registry.repo()
    client = registry.client(first, second)
    data = os.urandom(10_000)
    client.push_blob(first, data)
    client.push_blob(second, data)
    digest = digest_of(data)
    blob_paths = [info.path for info in registry.storage.walk("/docker/registry/v2/blobs") if not info.is_dir]
    assert blob_paths == [f"/docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data"]
    # counted once in the project
    assert registry.sql("SELECT used_storage FROM quotas WHERE project_id = %s", (registry.project_id,)) == [(10_000,)]


def test_upload_to_unknown_project_is_name_unknown(registry):
    repo = "no-such-project/app"
    client = registry.client(repo)
    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert reply.status == 404
    assert reply.error_codes == ["NAME_UNKNOWN"]
