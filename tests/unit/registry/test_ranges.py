"""Parsing Range (blob reads) and Content-Range (upload chunks)."""

from __future__ import annotations

import pytest

from berth_registry.services.blobs import parse_range
from berth_registry.services.exceptions import RangeNotSatisfiable, UploadInvalid
from berth_registry.services.uploads import Progress, parse_content_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", (0, 0)),
        ("bytes=0-", (0, 99)),
        ("bytes=10-19", (10, 19)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: send everything
        ("items=0-1", None),
    ],
)
def test_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10", "bytes=-0", "bytes=-", "bytes=200-300"])
def test_unsatisfiable_range(header):
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, 100)
    assert raised.value.headers == {"Content-Range": "bytes */100"}


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("0-99", (0, 99)), ("bytes=5-9", (5, 9)), ("bytes 5-9/100", (5, 9)), ("5-9/*", (5, 9))]
)
def test_content_range(value, expected):
    assert parse_content_range(value) == expected


@pytest.mark.parametrize("value", ["", "9-5", "a-b", "5", "-5", "0-99 trailing"])
def test_bad_content_range(value):
    with pytest.raises(UploadInvalid):
        parse_content_range(value)


def test_progress_range_header():
    import uuid

    upload = uuid.uuid4()
    assert Progress("p/r", upload, 0).range == "0-0"
    assert Progress("p/r", upload, 10).range == "0-9"
    assert Progress("p/r", upload, 10).location == f"/v2/p/r/blobs/uploads/{upload}"
