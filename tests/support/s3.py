"""An S3 endpoint for tests: moto's standalone server in a process of its own, or one you name.

Found the way every test server is (STYLE §11): ``BERTH_TEST_S3_URL`` with
``BERTH_TEST_S3_ACCESS_KEY`` / ``BERTH_TEST_S3_SECRET_KEY`` (and optionally
``BERTH_TEST_S3_REGION``) points the tests at MinIO, Ceph or AWS; otherwise ``moto_server`` is
started on 127.0.0.1 and a free port for the session. It runs in its own process, not in a
thread, so it is a real HTTP server and the memory it spends holding objects does not show up
in this process's tracemalloc measurements.

Use the fixtures by importing them into a conftest or test module::

    from support.s3 import s3, s3_admin_client, s3_server  # noqa: F401

``s3`` gives each test a new, empty bucket (emptied and removed afterwards) as an
:class:`S3Bucket`: endpoint URL, region, credentials, bucket name and a ready boto3 client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from berth_deploy.infra import free_port
from support.servers import stop_process

MOTO_CREDENTIALS = ("berth-test-access-key", "berth-test-secret-key")
START_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        """A new boto3 S3 client for this endpoint."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )


@dataclasses.dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    region: str
    access_key: str
    secret_key: str
    bucket: str
    client: Any

    def driver_params(self, **overrides: Any) -> dict[str, Any]:
        """Parameters for ``factory.create("s3", ...)`` pointing at this bucket."""
        params = {
            "bucket": self.bucket,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
        }
        return params | overrides

    def object_keys(self) -> list[str]:
        """Every object key in the bucket, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def uploads(self) -> list[tuple[str, str]]:
        """Every unfinished multipart upload in the bucket as (key, upload id)."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket)
        return sorted((upload["Key"], upload["UploadId"]) for page in pages for upload in page.get("Uploads", []))

    def empty(self) -> None:
        """Abort every unfinished upload and delete every object."""
        for key, upload_id in self.uploads():
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        keys = self.object_keys()
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


def _wait_until_serving(server: S3Server, process: subprocess.Popen, log_path: str) -> None:
    client = server.client()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            with open(log_path, errors="replace") as log:
                raise RuntimeError(f"moto_server exited with {process.returncode}: {log.read()[-2000:]}")
        try:
            client.list_buckets()
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT:.0f}s") from None
            time.sleep(0.1)  # nothing to wait on but the socket opening


@contextlib.contextmanager
def moto_server() -> Iterator[S3Server]:
    """Run moto's S3 server on 127.0.0.1 and a free port until the block ends."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False) as log:
        log_path = log.name
    with open(log_path, "wb") as log:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MOTO_"))}
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = S3Server(f"http://127.0.0.1:{port}", "us-east-1", *MOTO_CREDENTIALS)
    try:
        _wait_until_serving(server, process, log_path)
        yield server
    finally:
        stop_process(process)
        os.unlink(log_path)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The S3 endpoint for this test session (BERTH_TEST_S3_URL, else a private moto_server)."""
    url = os.environ.get("BERTH_TEST_S3_URL")
    if url:
        yield S3Server(
            url,
            os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"),
            os.environ["BERTH_TEST_S3_ACCESS_KEY"],
            os.environ["BERTH_TEST_S3_SECRET_KEY"],
        )
        return
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_admin_client(s3_server: S3Server) -> Any:
    """One client for creating and removing test buckets (clients take ~0.1 s to build)."""
    return s3_server.client()


@pytest.fixture
def s3(s3_server: S3Server, s3_admin_client: Any) -> Iterator[S3Bucket]:
    """A new empty bucket for one test; emptied and removed afterwards."""
    client = s3_admin_client
    name = f"berth-test-{uuid.uuid4().hex[:16]}"
    if s3_server.region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": s3_server.region})
    bucket = S3Bucket(s3_server.endpoint_url, s3_server.region, s3_server.access_key, s3_server.secret_key, name, client)
    try:
        yield bucket
    finally:
        bucket.empty()
        client.delete_bucket(Bucket=name)
