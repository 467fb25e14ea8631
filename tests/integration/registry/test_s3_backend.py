"""The protocol over the S3 driver (moto's real HTTP server): push, pull, chunked uploads
resumed by another app, and blob GETs answered with a 307 to a presigned URL."""

from __future__ import annotations

import os

import requests

from berth_registry.storage import factory
from support.oci_client import digest_of, expect
from support.s3 import s3, s3_admin_client, s3_server  # noqa: F401 - fixtures

CHUNK = 5 * 1024 * 1024  # the driver's smallest part size


def test_push_and_pull_through_s3(registry, s3):  # noqa: F811
    backend = registry.with_storage(factory.create("s3", s3.driver_params(chunk_size=CHUNK)))
    repo = backend.repo()
    client = backend.client(repo)
    layer = os.urandom(CHUNK + 123_456)
    client.push_blob(repo, layer, method="chunked", chunk_size=3 * 1024 * 1024)

    digest, body = client.push_image(repo, "v1", [layer])

    manifest = client.pull_image(repo, "v1")
    assert manifest["layers"][0]["size"] == len(layer)
    partial = client.get_blob(repo, manifest["layers"][0]["digest"], "bytes=10-19")
    assert partial.status == 206 and partial.body == layer[10:20]
    assert f"docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data" in s3.object_keys()
    assert not [key for key in s3.object_keys() if "/uploads/" in key]
    assert s3.uploads() == []


def test_chunked_upload_continues_in_another_app_over_s3(registry, s3):  # noqa: F811
    first = registry.with_storage(factory.create("s3", s3.driver_params(chunk_size=CHUNK)))
    second = registry.with_storage(factory.create("s3", s3.driver_params(chunk_size=CHUNK)))
    repo = first.repo()
    data = os.urandom(2 * CHUNK + 1000)
    location = first.client(repo).start_upload(repo).headers["Location"]
    first.client(repo).patch_chunk(location, data[: CHUNK + 10], 0)

    client = second.client(repo)
    client.patch_chunk(location, data[CHUNK + 10 :], CHUNK + 10)
    expect(client.request("PUT", f"{location}?digest={digest_of(data)}", body=b""), 201)
    assert client.pull_blob(repo, digest_of(data)) == data


def test_blob_get_redirects_to_a_presigned_url(registry, s3):  # noqa: F811
    backend = registry.with_storage(factory.create("s3", s3.driver_params(redirect=True)))
    repo = backend.repo()
    client = backend.client(repo)
    data = os.urandom(4096)
    digest = client.push_blob(repo, data)

    reply = client.get_blob(repo, digest)

    assert reply.status == 307
    assert reply.headers["Docker-Content-Digest"] == digest
    fetched = requests.get(reply.headers["Location"], timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == data
    # HEAD is still answered by the registry itself
    assert expect(client.head_blob(repo, digest), 200).headers["Content-Length"] == "4096"
