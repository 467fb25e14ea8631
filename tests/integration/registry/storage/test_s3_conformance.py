"""The storage driver conformance suite, unchanged, against the S3 driver on a real S3 endpoint.

The test functions and the ``driver`` fixture are imported from the unit suite; only ``backend``
differs: an S3 driver (chunk size 5 MiB, keys under a root directory) on a fresh bucket of the
endpoint from :mod:`support.s3` (moto's standalone server unless BERTH_TEST_S3_URL names another).
Leftovers are checked over the whole bucket, so a key written outside the root directory, a tail
object or an unfinished multipart upload all fail the test.
"""

from __future__ import annotations

import pytest

from berth_registry.storage import factory
from support.s3 import S3Bucket
from unit.registry.storage.test_driver_conformance import *  # noqa: F403 - the suite itself
from unit.registry.storage.test_driver_conformance import CHUNK, Backend


@pytest.fixture
def backend(s3: S3Bucket) -> Backend:
    """The backend every imported test runs on (the suite's ``__all__`` leaves its own out)."""
    params = s3.driver_params(root_directory="/registry/root", chunk_size=CHUNK, redirect=True)
    return Backend(
        "s3",
        make=lambda: factory.create("s3", params),
        leftovers=lambda: [*s3.object_keys(), *(f"upload:{key}" for key, _ in s3.uploads())],
        has_redirect=True,
    )
