"""Upload bodies nginx spooled to a file (X-Berth-Body-File), and the access check before it.

The registry runs on a real connection pool with filesystem storage, exactly as behind nginx,
minus nginx: each test writes the body file into the spool folder itself, as nginx does, and
names it in the header. The rendered nginx configuration is exercised in
tests/integration/deploy/test_nginx.py and the whole path in tests/e2e/test_clients.py.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from support.oci_client import digest_of, expect

HEADER = "X-Berth-Body-File"
_names = itertools.count(1)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "storage" / "~spool"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def spooling(make_pooled, spool: Path):
    return make_pooled(upload_spool_dir=str(spool))


def spooled(spool: Path, content: bytes) -> str:
    """Write a body file as nginx would; its path for the header."""
    path = spool / f"{next(_names):010d}"
    path.write_bytes(content)
    return str(path)


def blob_file(registry, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":")
    return Path(registry.storage.local_path(f"/docker/registry/v2/blobs/{algorithm}/{hex_digest[:2]}/{hex_digest}/data"))


def test_a_spooled_monolithic_put_is_linked_into_storage(spooling, spool):
    repo = spooling.repo()
    client = spooling.client(repo)
    content = os.urandom(3 * 1024 * 1024 + 7)
    body = spooled(spool, content)
    location = client.start_upload(repo).headers["Location"]
    digest = digest_of(content)
    reply = client.request("PUT", f"{location}?digest={digest}", headers={HEADER: body})
    assert expect(reply, 201).headers["Docker-Content-Digest"] == digest
    stored = blob_file(spooling, digest)
    assert stored.read_bytes() == content
    assert stored.stat().st_ino == Path(body).stat().st_ino  # hard-linked: Python never copied it
    assert Path(body).exists()  # the spool file is nginx's to remove
    assert client.pull_blob(repo, digest) == content


def test_spooled_and_streamed_chunks_mix_in_one_upload(spooling, spool):
    repo = spooling.repo()
    client = spooling.client(repo)
    first, middle, last = os.urandom(2 * 1024 * 1024), os.urandom(1000), os.urandom(1024 * 1024 + 1)
    location = client.start_upload(repo).headers["Location"]
    reply = expect(client.request("PATCH", location, headers={HEADER: spooled(spool, first), "Content-Range": f"0-{len(first) - 1}"}), 202)
    assert reply.headers["Range"] == f"0-{len(first) - 1}"
    reply = client.patch_chunk(reply.headers["Location"], middle, len(first))
    digest = digest_of(first + middle + last)
    end = len(first) + len(middle)
    reply = client.request(
        "PUT",
        f"{reply.headers['Location']}?digest={digest}",
        headers={HEADER: spooled(spool, last), "Content-Range": f"{end}-{end + len(last) - 1}"},
    )
    expect(reply, 201)
    assert client.pull_blob(repo, digest) == first + middle + last


def test_a_spooled_monolithic_post(spooling, spool):
    repo = spooling.repo()
    client = spooling.client(repo)
    content = os.urandom(100_000)
    digest = digest_of(content)
    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", headers={HEADER: spooled(spool, content)})
    assert expect(reply, 201).headers["Docker-Content-Digest"] == digest
    assert blob_file(spooling, digest).read_bytes() == content


def test_spooled_bodies_keep_every_upload_check(spooling, spool):
    repo = spooling.repo()
    client = spooling.client(repo)
    content = os.urandom(50_000)
    location = client.start_upload(repo).headers["Location"]
    # Out of order: 416 with the offset to resume at.
    reply = client.request("PATCH", location, headers={HEADER: spooled(spool, content), "Content-Range": f"10-{len(content) + 9}"})
    assert expect(reply, 416).headers["Range"] == "0-0"
    # A Content-Range that does not match the body's size.
    reply = client.request("PATCH", location, headers={HEADER: spooled(spool, content), "Content-Range": "0-9"})
    assert expect(reply, 400).error_codes == ["SIZE_INVALID"]
    # The wrong digest: refused, the session ends, nothing becomes visible.
    wrong = digest_of(b"something else")
    reply = client.request("PUT", f"{location}?digest={wrong}", headers={HEADER: spooled(spool, content)})
    assert expect(reply, 400).error_codes == ["DIGEST_INVALID"]
    assert expect(client.request("GET", location), 404).error_codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert expect(client.head_blob(repo, wrong), 404)
    assert not blob_file(spooling, digest_of(content)).exists()


def test_a_body_file_outside_the_spool_is_refused(spooling, spool, tmp_path):
    repo = spooling.repo()
    client = spooling.client(repo)
    elsewhere = tmp_path / "0000000001"
    elsewhere.write_bytes(b"not from nginx")
    location = client.start_upload(repo).headers["Location"]
    for named in (str(elsewhere), str(spool / ".." / "0000000001"), "/etc/passwd", str(spool / "0000009999")):
        reply = client.request("PATCH", location, headers={HEADER: named})
        assert expect(reply, 400).error_codes == ["BLOB_UPLOAD_INVALID"], named
    assert expect(client.request("GET", location), 204).headers["Range"] == "0-0"  # nothing was appended


def test_the_header_means_nothing_without_a_spool(make_pooled, spool):
    registry = make_pooled()  # upload_spool_dir not set
    repo = registry.repo()
    client = registry.client(repo)
    location = client.start_upload(repo).headers["Location"]
    named = spooled(spool, b"a file a client named")
    reply = expect(client.request("PATCH", location, headers={HEADER: named}, body=b"the body"), 202)
    assert reply.headers["Range"] == "0-7"  # the request's own body, not the file


@pytest.mark.parametrize(
    ("uri", "actions", "status"),
    [
        ("/v2/{repo}/blobs/uploads/{upload}", ("pull", "push"), 204),
        ("/v2/{repo}/blobs/uploads/{upload}?digest=sha256:abc", ("push",), 204),
        ("/v2/{repo}/blobs/uploads/?digest=sha256:abc", ("pull", "push"), 204),
        ("/v2/{repo}/blobs/uploads/{upload}", ("pull",), 403),
        ("/v2/{repo}/blobs/uploads/{upload}", None, 403),
        ("/v2/{other}/blobs/uploads/{upload}", ("pull", "push"), 403),  # the token is for another repository
        ("/v2/{repo}/blobs/uploads/{unknown}", ("pull", "push"), 403),
        ("/v2/{repo}/blobs/uploads/not-a-uuid", ("pull", "push"), 403),
        ("/v2/{repo}/manifests/latest", ("pull", "push"), 403),
        ("/v2/UPPER/case/blobs/uploads/{upload}", ("pull", "push"), 403),
        ("/v2/nosuchproject/r/blobs/uploads/?digest=sha256:abc", ("pull", "push"), 403),
        ("", ("pull", "push"), 403),
    ],
)
def test_the_access_check_lets_nginx_take_bodies_the_upload_would_take(spooling, uri, actions, status):
    repo, other = spooling.repo(), spooling.repo()
    upload = spooling.client(repo).start_upload(repo).headers["Docker-Upload-UUID"]
    repos = (repo, "nosuchproject/r") if "nosuchproject" in uri else (repo,)
    client = spooling.client(*repos, actions=actions) if actions else spooling.anonymous()
    target = uri.format(repo=repo, other=other, upload=upload, unknown="0b5c2f8e-4a8e-4e55-9f0f-1d2a3b4c5d6e")
    reply = client.request("GET", "/_berth/upload-access", headers={"X-Original-URI": target})
    assert reply.status == status
    assert reply.body == b""


def test_the_access_check_refuses_in_read_only_mode(registry):
    repo = registry.repo()
    client = registry.client(repo)
    upload = client.start_upload(repo).headers["Docker-Upload-UUID"]
    check = {"X-Original-URI": f"/v2/{repo}/blobs/uploads/{upload}"}
    assert client.request("GET", "/_berth/upload-access", headers=check).status == 204
    registry.sql("INSERT INTO configurations (k, v) VALUES ('read_only', 'true')")  # rolled back after the test
    assert client.request("GET", "/_berth/upload-access", headers=check).status == 403
