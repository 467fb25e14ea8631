"""Tag list and catalog: byte order, ``n``/``last`` pagination, the ``Link`` header, access."""

from __future__ import annotations

import json

from support.oci_client import digest_of, expect


def push_tags(client, repo: str, names: list[str]) -> None:
    config = client.push_blob(repo, b"{}")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [],
        }
    ).encode()
    for name in names:
        client.put_manifest(repo, name, body)


def test_tags_are_listed_in_byte_order_with_pagination(registry):
    repo = registry.repo()
    client = registry.client(repo)
    names = ["b", "B", "a", "a-1", "Z", "0", "a_", "z"]
    push_tags(client, repo, names)

    reply = expect(client.tags(repo), 200)
    assert reply.json() == {"name": repo, "tags": sorted(names)}  # Python sorts str by code point = bytes here
    assert "Link" not in reply.headers

    first = expect(client.tags(repo, n=3), 200)
    assert first.json()["tags"] == sorted(names)[:3]
    assert first.headers["Link"] == f'</v2/{repo}/tags/list?n=3&last={sorted(names)[2]}>; rel="next"'
    after = expect(client.tags(repo, n=3, last=sorted(names)[2]), 200).json()["tags"]
    assert after == sorted(names)[3:6]
    assert list(client.all_tags(repo, 3)) == sorted(names)
    assert expect(client.tags(repo, last="a_"), 200).json()["tags"] == ["b", "z"]
    assert expect(client.tags(repo, n=0), 200).json()["tags"] == []


def test_tag_list_errors(registry):
    repo = registry.repo()
    client = registry.client(repo)
    push_tags(client, repo, ["one"])
    for bad in ("-1", "abc"):
        reply = client.tags(repo, n=bad)
        assert reply.status == 400
        assert reply.error_codes == ["PAGINATION_NUMBER_INVALID"]
    unknown = registry.repo()
    assert registry.client(unknown).tags(unknown).error_codes == ["NAME_UNKNOWN"]


def test_catalog_pages_and_needs_the_catalog_scope(registry):
    repos = sorted(registry.repo(f"c{i}") for i in range(3))
    pusher = registry.client(*repos)
    for repo in repos:
        pusher.push_blob(repo, b"{}")
        push_tags(pusher, repo, ["t"])

    denied = registry.client(*repos).catalog()
    assert denied.status == 403
    assert denied.error_codes == ["DENIED"]

    client = registry.client(with_catalog=True)
    listed = expect(client.catalog(), 200).json()["repositories"]
    assert [name for name in listed if name in repos] == repos
    page = expect(client.catalog(n=1, last=repos[0]), 200)
    assert page.json() == {"repositories": [repos[1]]}
    assert page.headers["Link"] == f'</v2/_catalog?n=1&last={repos[1].replace("/", "%2F")}>; rel="next"'


def test_empty_repository_lists_no_tags(registry):
    repo = registry.repo()
    client = registry.client(repo)
    push_tags(client, repo, ["only"])
    expect(client.delete_manifest(repo, "only"), 202)
    assert expect(client.tags(repo), 200).json() == {"name": repo, "tags": []}
    assert client.get_manifest(repo, digest_of(b"x")).status == 404
