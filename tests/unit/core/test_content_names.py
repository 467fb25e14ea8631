"""Repository names, references and copy sources as the content API parses them (no DB)."""

from __future__ import annotations

import pytest

from berth_common.errors import APIError
from berth_core.db.content import accessory_type
from berth_core.db.projects import Project
from berth_core.services import content

PROJECT = Project(1, "library", 1, "admin", None, None, {"public": "true"})


@pytest.mark.parametrize(
    ("raw", "full"),
    [
        ("hello", "library/hello"),
        ("a%2Fb", "library/a/b"),  # the second layer of Harbor's double encoding
        ("a%2Fb%2Fc-d_e.f", "library/a/b/c-d_e.f"),
        ("x__y", "library/x__y"),
    ],
)
def test_repository_names_are_decoded_once_more(raw: str, full: str) -> None:
    assert content.repository_full_name(PROJECT, raw) == full


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "..",
        "..%2F..%2Fetc",  # traversal after the second decode
        "a%2F..%2Fb",
        "%2Fabs",
        "a%2F",
        "a%2F%2Fb",
        "Upper",
        "a b",
        "a%00b",
        "a%252Fb",  # three layers of encoding leave a literal %2F: not a name
        "-lead",
        "x" * 300,
    ],
)
def test_bad_repository_names_are_400(raw: str) -> None:
    with pytest.raises(APIError) as err:
        content.repository_full_name(PROJECT, raw)
    assert err.value.status == 400


def test_full_name_length_is_bounded() -> None:
    long_project = Project(2, "p" * 200, 1, "admin", None, None, {})
    with pytest.raises(APIError):
        content.repository_full_name(long_project, "r" * 60)


@pytest.mark.parametrize("ref", ["latest", "v1.2.3", "1_x-y", "sha256:" + "a" * 64, "sha512:" + "b" * 128])
def test_good_references(ref: str) -> None:
    assert content.check_reference(ref) == ref


@pytest.mark.parametrize(
    "ref", ["", ".hidden", "-x", "a" * 129, "sha256:", "../x", "a/b", "tag with space", "sha256:zz!", "t\u00e4g", "v1\n"]
)
def test_bad_references_are_400(ref: str) -> None:
    with pytest.raises(APIError) as err:
        content.check_reference(ref)
    assert err.value.status == 400


@pytest.mark.parametrize("name", [None, 3, "", " v1", "v1/x", "x" * 129, ["v1"]])
def test_bad_tag_names_are_400(name: object) -> None:
    with pytest.raises(APIError):
        content.check_tag_name(name)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("library/hello:v1", ("library/hello", "v1")),
        ("library/a/b@sha256:" + "c" * 64, ("library/a/b", "sha256:" + "c" * 64)),
    ],
)
def test_copy_sources(source: str, expected: tuple[str, str]) -> None:
    assert content.parse_source(source) == expected


@pytest.mark.parametrize(
    "source",
    ["hello:v1", "library/hello", "library/hello@v1", "library/../x:v1", "library/hello:", "library/Hello:v1", "@sha256:" + "a" * 64],
)
def test_bad_copy_sources_are_400(source: str) -> None:
    with pytest.raises(APIError) as err:
        content.parse_source(source)
    assert err.value.status == 400


def test_accessory_types_follow_harbor() -> None:
    assert accessory_type("application/vnd.dev.cosign.artifact.sig.v1+json") == "signature.cosign"
    assert accessory_type("application/vnd.cncf.notary.signature") == "signature.notation"
    assert accessory_type("application/spdx+json") == "subject.accessory"
