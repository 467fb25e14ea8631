"""Parsing manifests: the accepted formats, Harbor's classification, and precise refusals."""

from __future__ import annotations

import json

import pytest

from berth_registry.services.exceptions import ManifestInvalid
from berth_registry.services.manifest_formats import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    EMPTY_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    image_attributes,
    parse,
)

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def manifest(**fields) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D1, "size": 10},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D2, "size": 20}],
    }
    document.update(fields)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_oci_image():
    parsed = parse(manifest(annotations={"a": "b"}), OCI_MANIFEST)
    assert parsed.media_type == OCI_MANIFEST and not parsed.is_index
    assert parsed.required_blobs() == [D1, D2]
    assert parsed.harbor_type == "IMAGE"
    assert parsed.effective_artifact_type == "application/vnd.oci.image.config.v1+json"
    assert parsed.annotations == {"a": "b"}


def test_docker_image_and_list():
    docker = manifest(
        mediaType=DOCKER_MANIFEST, config={"mediaType": "application/vnd.docker.container.image.v1+json", "digest": D1, "size": 1}
    )
    assert parse(docker, DOCKER_MANIFEST).harbor_type == "IMAGE"
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_LIST,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": D3, "size": 5, "platform": {"os": "linux", "architecture": "amd64"}}],
        }
    ).encode()
    parsed = parse(listing, None)
    assert parsed.is_index and parsed.harbor_type == "IMAGE"
    assert parsed.children[0].platform == {"os": "linux", "architecture": "amd64"}
    assert parsed.required_blobs() == []


def test_artifact_with_subject():
    body = manifest(
        artifactType="application/vnd.example+json",
        config={"mediaType": EMPTY_CONFIG, "digest": D1, "size": 2},
        subject={"mediaType": OCI_MANIFEST, "digest": D3, "size": 100},
    )
    parsed = parse(body, OCI_MANIFEST)
    assert parsed.subject.digest == D3
    assert parsed.effective_artifact_type == "application/vnd.example+json"
    assert parsed.harbor_type == "UNKNOWN"


def test_helm_chart_type():
    body = manifest(config={"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": D1, "size": 2})
    assert parse(body, OCI_MANIFEST).harbor_type == "CHART"


def test_media_type_from_header_or_shape():
    no_type = manifest(mediaType=None)
    assert parse(no_type, OCI_MANIFEST).media_type == OCI_MANIFEST
    assert parse(no_type, None).media_type == OCI_MANIFEST
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert parse(index, "application/json").media_type == OCI_INDEX


def test_non_distributable_layers_are_not_required():
    body = manifest(
        layers=[
            {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": D2, "size": 1, "urls": ["https://x/y"]},
            {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": D3, "size": 1},
        ]
    )
    assert parse(body, OCI_MANIFEST).required_blobs() == [D1]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"not json", OCI_MANIFEST, "not valid JSON"),
        (b"[1]", OCI_MANIFEST, "not a JSON object"),
        (manifest(schemaVersion=3), OCI_MANIFEST, "schemaVersion"),
        (json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), None, "schema 1"),
        (manifest(), "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
        (manifest(mediaType="application/x-unknown"), None, "unsupported"),
        (manifest(), OCI_INDEX, "does not match"),
        (manifest(config=None), OCI_MANIFEST, "needs a config"),
        (manifest(layers={"no": "list"}), OCI_MANIFEST, "layers must be a list"),
        (manifest(layers=[{"mediaType": "x", "digest": "sha256:bad", "size": 1}]), OCI_MANIFEST, "invalid digest"),
        (manifest(layers=[{"mediaType": "x", "digest": D2, "size": -1}]), OCI_MANIFEST, "size"),
        (manifest(layers=[{"mediaType": "x", "digest": D2, "size": True}]), OCI_MANIFEST, "size"),
        (manifest(layers=[{"digest": D2, "size": 1}]), OCI_MANIFEST, "mediaType"),
        (manifest(annotations={"a": 1}), OCI_MANIFEST, "annotations"),
        (manifest(artifactType=5), OCI_MANIFEST, "artifactType"),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}).encode(), None, "manifests list"),
    ],
)
def test_refusals_name_the_problem(body, content_type, message):
    with pytest.raises(ManifestInvalid, match=message):
        parse(body, content_type)


def test_image_attributes():
    config = json.dumps({"architecture": "arm64", "os": "linux", "variant": "v8", "created": "2024", "rootfs": {}, "history": []}).encode()
    assert image_attributes(config) == {"architecture": "arm64", "os": "linux", "variant": "v8", "created": "2024"}
    assert image_attributes(b"garbage") == {}
    assert image_attributes(b"[]") == {}
