"""Manifest endpoints: every accepted format, Harbor's artifact rows, referrers, limits, deletes."""

from __future__ import annotations

import json
import os

import pytest

from support.oci_client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    digest_of,
    expect,
)

ARTIFACT_TYPE = "application/vnd.example.sbom.v1+json"


def image_config(arch: str = "amd64") -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Env": ["A=1"]},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()


def index_of(children: list[tuple[str, bytes, str]], media_type: str = OCI_INDEX, **extra) -> bytes:
    """An index over (digest, manifest bytes, architecture) children."""
    entries = [
        {
            "mediaType": json.loads(body).get("mediaType", OCI_MANIFEST),
            "digest": digest,
            "size": len(body),
            "platform": {"os": "linux", "architecture": arch},
        }
        for digest, body, arch in children
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries, **extra}).encode()


def artifact(
    client, repo: str, subject: tuple[str, bytes] | None = None, artifact_type: str = ARTIFACT_TYPE, note: str = ""
) -> tuple[str, bytes]:
    """An OCI 1.1 artifact (empty config, artifactType) optionally referring to ``subject``."""
    empty = client.push_blob(repo, b"{}")
    layer = os.urandom(64)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": client.push_blob(repo, layer), "size": len(layer)}],
        "annotations": {"org.example.note": note or os.urandom(4).hex()},
    }
    if subject is not None:
        manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject[0], "size": len(subject[1])}
    body = json.dumps(manifest).encode()
    digest = digest_of(body)
    reply = client.put_manifest(repo, digest, body)
    if subject is not None:
        assert reply.headers["OCI-Subject"] == subject[0]
    else:
        assert "OCI-Subject" not in reply.headers
    return digest, body


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_push_and_pull_an_image_by_tag_and_digest(registry, media_type):
    repo = registry.repo()
    client = registry.client(repo)
    layers = [os.urandom(5000), os.urandom(7000)]

    digest, body = client.push_image(repo, "v1", layers, config=image_config(), media_type=media_type)

    for reference in ("v1", digest):
        reply = expect(client.get_manifest(repo, reference), 200)
        assert reply.body == body
        assert reply.headers["Content-Type"] == media_type
        assert reply.headers["Docker-Content-Digest"] == digest
        assert reply.headers["Content-Length"] == str(len(body))
        head = expect(client.head_manifest(repo, reference), 200)
        assert head.body == b""
        assert head.headers["Content-Length"] == str(len(body))
        assert head.headers["Content-Type"] == media_type
    manifest = client.pull_image(repo, "v1")
    assert [layer["size"] for layer in manifest["layers"]] == [5000, 7000]

    config_size = len(image_config())
    [(kind, media, manifest_media, artifact_type, size, extra, subject)] = registry.sql(
        "SELECT type, media_type, manifest_media_type, artifact_type, size, extra_attrs, subject_digest FROM artifacts WHERE digest = %s",
        (digest,),
    )
    config_type = json.loads(body)["config"]["mediaType"]
    assert (kind, media, manifest_media, artifact_type) == ("IMAGE", config_type, media_type, config_type)
    assert size == len(body) + config_size + 12000
    assert extra == {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z", "config": {"Env": ["A=1"]}}
    assert subject is None
    # manifest + config + 2 layers, each once
    assert registry.sql("SELECT count(*) FROM artifact_blobs ab JOIN artifacts a USING (artifact_id) WHERE a.digest = %s", (digest,)) == [
        (4,)
    ]
    assert registry.sql("SELECT t.name FROM tags t JOIN artifacts a USING (artifact_id) WHERE a.digest = %s", (digest,)) == [("v1",)]


@pytest.mark.parametrize(("index_type", "child_type"), [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)])
def test_multi_architecture_index(registry, index_type, child_type):
    repo = registry.repo()
    client = registry.client(repo)
    children = []
    for arch in ("amd64", "arm64"):
        digest, body = client.push_image(repo, None, [os.urandom(100)], config=image_config(arch), media_type=child_type)
        children.append((digest, body, arch))
    index = index_of(children, index_type)

    client.put_manifest(repo, "multi", index, index_type)

    reply = expect(client.get_manifest(repo, "multi"), 200)
    assert reply.body == index
    assert reply.headers["Content-Type"] == index_type
    rows = registry.sql(
        """
        SELECT r.child_digest, r.platform FROM artifact_references r
        JOIN artifacts p ON p.artifact_id = r.parent_id WHERE p.digest = %s ORDER BY r.platform->>'architecture'
        """,
        (digest_of(index),),
    )
    assert rows == [(children[0][0], {"os": "linux", "architecture": "amd64"}), (children[1][0], {"os": "linux", "architecture": "arm64"})]
    [(kind, media, size)] = registry.sql("SELECT type, media_type, size FROM artifacts WHERE digest = %s", (digest_of(index),))
    child_sizes = sum(row[0] for row in registry.sql("SELECT size FROM artifacts WHERE digest IN %s", ((children[0][0], children[1][0]),)))
    assert (kind, media, size) == ("IMAGE", index_type, len(index) + child_sizes)


def test_index_child_must_exist(registry):
    repo = registry.repo()
    client = registry.client(repo)
    ghost = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode()
    index = index_of([(digest_of(ghost), ghost, "amd64")])
    reply = client.put_manifest(repo, "sparse", index, OCI_INDEX, expect_status=404)
    assert reply.error_codes == ["MANIFEST_BLOB_UNKNOWN"]
    assert reply.json()["errors"][0]["detail"] == {"digest": digest_of(ghost)}


def test_index_child_from_another_repository_of_the_project_is_imported(registry):
    source, target = registry.repo(), registry.repo()
    client = registry.client(source, target)
    child_digest, child = client.push_image(source, "x", [os.urandom(100)], config=image_config())
    index = index_of([(child_digest, child, "amd64")])

    client.put_manifest(target, "imported", index, OCI_INDEX)

    assert expect(client.get_manifest(target, child_digest), 200).body == child
    assert registry.sql("SELECT count(*) FROM artifacts WHERE digest = %s", (child_digest,)) == [(2,)]


def test_manifest_with_missing_blob_is_refused_and_stores_nothing(registry):
    repo = registry.repo()
    client = registry.client(repo)
    config = client.push_blob(repo, image_config())
    missing = digest_of(b"layer that was never pushed")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config, "size": len(image_config())},
            "layers": [{"mediaType": OCI_LAYER, "digest": missing, "size": 27}],
        }
    ).encode()

    reply = client.put_manifest(repo, "broken", body, expect_status=404)

    assert reply.error_codes == ["MANIFEST_BLOB_UNKNOWN"]
    assert reply.json()["errors"][0]["detail"] == {"digest": missing}
    assert registry.sql("SELECT count(*) FROM blobs WHERE digest = %s", (digest_of(body),)) == [(0,)]
    assert registry.sql("SELECT count(*) FROM artifacts WHERE repository_name = %s", (repo,)) == [(0,)]


def test_blob_of_another_project_is_not_linkable(registry, new_project):
    repo = registry.repo()
    other = f"{new_project()}/app"
    client = registry.client(repo, other)
    layer = client.push_blob(other, b"layer in the other project")
    config = client.push_blob(repo, image_config())
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config, "size": len(image_config())},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer, "size": 26}],
        }
    ).encode()
    assert client.put_manifest(repo, "x", body, expect_status=404).error_codes == ["MANIFEST_BLOB_UNKNOWN"]


def test_non_distributable_layers_need_not_be_present(registry):
    repo = registry.repo()
    client = registry.client(repo)
    config = client.push_blob(repo, image_config())
    foreign = digest_of(b"windows base layer")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config, "size": len(image_config())},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                    "digest": foreign,
                    "size": 123456,
                    "urls": ["https://store.example.com/blobs/sha256/" + foreign[7:]],
                }
            ],
        }
    ).encode()
    client.put_manifest(repo, "foreign", body)
    assert expect(client.get_manifest(repo, "foreign"), 200).body == body


def test_artifacts_subjects_and_referrers(registry):
    repo = registry.repo()
    client = registry.client(repo)
    subject = client.push_image(repo, "app", [os.urandom(100)], config=image_config())
    sbom = artifact(client, repo, subject, ARTIFACT_TYPE, "sbom")
    signature = artifact(client, repo, subject, "application/vnd.example.signature", "sig")
    artifact(client, repo, None)  # unrelated

    reply = expect(client.referrers(repo, subject[0]), 200)
    index = reply.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in reply.headers
    assert sorted(index["manifests"], key=lambda d: d["artifactType"]) == sorted(
        [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sbom[0],
                "size": len(sbom[1]),
                "artifactType": ARTIFACT_TYPE,
                "annotations": {"org.example.note": "sbom"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": signature[0],
                "size": len(signature[1]),
                "artifactType": "application/vnd.example.signature",
                "annotations": {"org.example.note": "sig"},
            },
        ],
        key=lambda d: d["artifactType"],
    )

    filtered = expect(client.referrers(repo, subject[0], ARTIFACT_TYPE), 200)
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [sbom[0]]

    [(kind, media, artifact_type, subject_digest)] = registry.sql(
        "SELECT type, media_type, artifact_type, subject_digest FROM artifacts WHERE digest = %s", (sbom[0],)
    )
    assert (kind, media, artifact_type, subject_digest) == ("UNKNOWN", OCI_EMPTY, ARTIFACT_TYPE, subject[0])


def test_referrers_of_a_subject_pushed_later_or_never(registry):
    repo = registry.repo()
    client = registry.client(repo)
    ghost = json.dumps({"schemaVersion": 2, "nothing": "here"}).encode()
    referrer = artifact(client, repo, (digest_of(ghost), ghost))

    listed = expect(client.referrers(repo, digest_of(ghost)), 200).json()["manifests"]

    assert [d["digest"] for d in listed] == [referrer[0]]
    empty = expect(client.referrers(repo, digest_of(b"nothing refers to this")), 200)
    assert empty.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    # a repository that does not exist has no referrers either
    unknown_repo = registry.repo()
    assert expect(registry.client(unknown_repo).referrers(unknown_repo, digest_of(ghost)), 200).json()["manifests"] == []


def test_index_with_subject_and_artifact_type(registry):
    repo = registry.repo()
    client = registry.client(repo)
    subject = client.push_image(repo, "base", [os.urandom(10)], config=image_config())
    child = client.push_image(repo, None, [os.urandom(10)], config=image_config())
    body = index_of(
        [(child[0], child[1], "amd64")],
        artifactType=ARTIFACT_TYPE,
        subject={"mediaType": OCI_MANIFEST, "digest": subject[0], "size": len(subject[1])},
    )
    reply = client.put_manifest(repo, digest_of(body), body, OCI_INDEX)
    assert reply.headers["OCI-Subject"] == subject[0]
    [entry] = expect(client.referrers(repo, subject[0]), 200).json()["manifests"]
    assert entry == {"mediaType": OCI_INDEX, "digest": digest_of(body), "size": len(body), "artifactType": ARTIFACT_TYPE}


def test_sha512_manifest_and_tag_parameters(registry):
    repo = registry.repo()
    client = registry.client(repo)
    _, body = client.push_image(repo, None, [os.urandom(10)], config=image_config())
    sha512 = digest_of(body, "sha512")

    reply = client.put_manifest(repo, sha512, body, tags=["one", "two"])

    assert reply.headers["Docker-Content-Digest"] == sha512
    assert sorted(t.strip() for t in reply.headers["OCI-Tag"].split(",")) == ["one", "two"]
    for reference in (sha512, "one", "two"):
        got = expect(client.get_manifest(repo, reference), 200)
        assert got.body == body
        assert got.headers["Docker-Content-Digest"] == sha512


def test_manifest_put_errors(registry):
    repo = registry.repo()
    client = registry.client(repo)
    _, body = client.push_image(repo, None, [b"x"], config=image_config())

    mismatch = client.put_manifest(repo, digest_of(body + b" "), body, expect_status=400)
    assert mismatch.error_codes == ["DIGEST_INVALID"]
    assert client.put_manifest(repo, "sha256:baddigeststring", body, expect_status=400).error_codes == ["DIGEST_INVALID"]
    assert client.put_manifest(repo, "bad tag!", body, expect_status=400).error_codes == ["MANIFEST_INVALID"]
    assert client.put_manifest(repo, "t", b"{not json", expect_status=400).error_codes == ["MANIFEST_INVALID"]
    assert client.put_manifest(repo, "t", b"[]", expect_status=400).error_codes == ["MANIFEST_INVALID"]
    schema1 = json.dumps({"schemaVersion": 1, "name": repo, "tag": "t", "fsLayers": []}).encode()
    assert client.put_manifest(
        repo, "t", schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws", expect_status=400
    ).error_codes == ["MANIFEST_INVALID"]
    wrong_type = client.put_manifest(repo, "t", body, OCI_INDEX, expect_status=400)
    assert wrong_type.error_codes == ["MANIFEST_INVALID"]
    bad_descriptor = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": OCI_CONFIG, "digest": "sha256:nope", "size": 1}}
    ).encode()
    assert client.put_manifest(repo, "t", bad_descriptor, expect_status=400).error_codes == ["MANIFEST_INVALID"]


def test_manifest_size_limit(registry):
    repo = registry.repo()
    client = registry.client(repo)
    config = client.push_blob(repo, image_config())
    base = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": len(image_config())},
        "layers": [],
    }
    # Just under 4 MiB is fine (the conformance suite pushes ~3.9 MB of annotations)...
    big = dict(base, annotations={f"a{i}": "A" * 10_000 for i in range(390)})
    client.put_manifest(repo, "big", json.dumps(big).encode())
    # ...over it is 413.
    huge = json.dumps(dict(base, annotations={f"a{i}": "A" * 10_000 for i in range(430)})).encode()
    reply = client.put_manifest(repo, "huge", huge, expect_status=413)
    assert reply.error_codes == ["SIZE_INVALID"]


def test_missing_manifests(registry):
    repo = registry.repo()
    client = registry.client(repo)
    client.push_image(repo, "exists", [b"x"], config=image_config())
    assert client.get_manifest(repo, "missing-tag").error_codes == ["MANIFEST_UNKNOWN"]
    assert client.get_manifest(repo, digest_of(b"nope")).error_codes == ["MANIFEST_UNKNOWN"]
    assert client.head_manifest(repo, "missing-tag").status == 404
    assert client.get_manifest(repo, "sha256:baddigeststring").status == 400
    unknown = registry.repo()
    assert registry.client(unknown).get_manifest(unknown, "latest").error_codes == ["NAME_UNKNOWN"]


def test_tag_moves_to_a_new_manifest(registry):
    repo = registry.repo()
    client = registry.client(repo)
    first, _ = client.push_image(repo, "latest", [b"one"], config=image_config())
    second, _ = client.push_image(repo, "latest", [b"two"], config=image_config())
    assert expect(client.head_manifest(repo, "latest"), 200).headers["Docker-Content-Digest"] == second
    expect(client.get_manifest(repo, first), 200)  # the old one stays, untagged


def test_delete_tag_keeps_the_manifest(registry):
    repo = registry.repo()
    client = registry.client(repo)
    digest, _ = client.push_image(repo, "gone", [b"x"], config=image_config())
    client.put_manifest(repo, "kept", expect(client.get_manifest(repo, digest), 200).body)

    assert client.delete_manifest(repo, "gone").status == 202

    assert client.head_manifest(repo, "gone").status == 404
    assert expect(client.head_manifest(repo, "kept"), 200).headers["Docker-Content-Digest"] == digest
    assert client.delete_manifest(repo, "gone").error_codes == ["MANIFEST_UNKNOWN"]


def test_delete_manifest_by_digest_removes_artifact_and_tags(registry):
    repo = registry.repo()
    client = registry.client(repo)
    digest, _ = client.push_image(repo, "v1", [b"x"], config=image_config())

    assert client.delete_manifest(repo, digest).status == 202

    assert client.head_manifest(repo, digest).status == 404
    assert client.head_manifest(repo, "v1").status == 404
    assert expect(client.tags(repo), 200).json()["tags"] == []
    assert client.delete_manifest(repo, digest).error_codes == ["MANIFEST_UNKNOWN"]


def test_child_of_an_index_cannot_be_deleted_first(registry):
    repo = registry.repo()
    client = registry.client(repo)
    child = client.push_image(repo, None, [b"x"], config=image_config())
    index = index_of([(child[0], child[1], "amd64")])
    client.put_manifest(repo, "idx", index, OCI_INDEX)

    refused = client.delete_manifest(repo, child[0])
    assert refused.status == 403
    assert refused.error_codes == ["DENIED"]

    assert client.delete_manifest(repo, digest_of(index)).status == 202
    assert client.delete_manifest(repo, child[0]).status == 202
