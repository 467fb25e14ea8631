"""Manifest pulls answered from memory (api/fast_path.py) answer as the Flask view does, and only when they may.

These apps run on real connection pools (``make_pooled``), so the reference cache is on and hears
the database's change notifications; every change here is committed.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from berth_registry.db import changes
from support.oci_client import expect
from support.tokens import access
from support.waiting import wait_until

T = TypeVar("T")
REQUEST_ID = {"X-Request-Id": "fast-path-test-1"}


class Counting:
    """Wraps the Flask app behind the fast path and counts the requests that reach it."""

    def __init__(self, registry: Any) -> None:
        self.fast_path = registry.app.wsgi_app
        self.inner = self.fast_path.app
        self.paths: list[str] = []
        self.fast_path.app = self

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.paths.append(environ["PATH_INFO"])
        return self.inner(environ, start_response)


@pytest.fixture
def pushed(make_pooled) -> dict[str, Any]:
    registry = make_pooled()
    assert registry.app.extensions["berth.refs"].wait_live(10)
    repo = registry.repo()
    client = registry.client(repo, sub="alice")
    digest, body = client.push_image(repo, "v1", [b"layer one"])
    return {"registry": registry, "repo": repo, "client": client, "digest": digest, "body": body, "flask": Counting(registry)}


def headers(reply) -> dict[str, str]:
    return {name.lower(): value for name, value in reply.headers._items}


@pytest.mark.parametrize("reference", ["v1", "digest"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_cached_pull_answers_exactly_as_the_view(pushed, method, reference):
    client, repo, flask = pushed["client"], pushed["repo"], pushed["flask"]
    reference = pushed["digest"] if reference == "digest" else reference
    url = f"/v2/{repo}/manifests/{reference}"

    first = expect(client.request(method, url, headers=REQUEST_ID), 200)
    assert flask.paths == [url], "the first pull fills the caches through the view"
    second = expect(client.request(method, url, headers=REQUEST_ID), 200)
    assert flask.paths == [url], "the second is answered in front of Flask"

    assert headers(second) == headers(first)
    assert second.body == first.body == (pushed["body"] if method == "GET" else b"")
    assert headers(second)["docker-content-digest"] == pushed["digest"]
    assert headers(second)["content-length"] == str(len(pushed["body"]))
    assert headers(second)["x-request-id"] == REQUEST_ID["X-Request-Id"]


def test_a_request_id_is_made_up_when_missing_or_unusable(pushed):
    client, repo = pushed["client"], pushed["repo"]
    expect(client.get_manifest(repo, "v1"), 200)
    made_up = expect(client.request("GET", f"/v2/{repo}/manifests/v1", headers={"X-Request-Id": "bad id\x7f"}), 200)
    assert len(pushed["flask"].paths) == 1
    assert made_up.headers["X-Request-Id"] != "bad id\x7f"
    assert len(made_up.headers["X-Request-Id"]) == 32


def test_cached_pulls_are_recorded_like_any_pull(pushed):
    registry, client, repo = pushed["registry"], pushed["client"], pushed["repo"]
    for _ in range(3):
        expect(client.request("GET", f"/v2/{repo}/manifests/v1", headers={"X-Real-IP": "203.0.113.7"}), 200)
    expect(client.head_manifest(repo, "v1"), 200)  # a HEAD is not a pull
    assert len(pushed["flask"].paths) == 1
    registry.flush_pulls()

    audit = registry.sql(
        "SELECT operation, resource, username, client_ip FROM audit_log WHERE resource = %s AND operation = 'pull'", (f"{repo}:v1",)
    )
    assert audit == [("pull", f"{repo}:v1", "alice", "203.0.113.7")] * 3
    events = registry.sql("SELECT count(*) FROM outbox WHERE ordering_key = %s AND event_type = 'PULL_ARTIFACT'", (repo,))
    assert events == [(3,)]
    assert registry.sql("SELECT pull_count FROM repositories WHERE name = %s", (repo,)) == [(3,)]


def test_tokens_are_checked_on_every_cached_pull(pushed):
    registry, client, repo, flask = pushed["registry"], pushed["client"], pushed["repo"], pushed["flask"]
    url = f"/v2/{repo}/manifests/v1"
    expect(client.get_manifest(repo, "v1"), 200)

    # Valid tokens this process has verified before (on /v2/), without pull on this repository.
    other_repo = registry.client(registry.repo())
    push_only = registry.client(repo, actions=("push",))
    for refused in (other_repo, push_only):
        refused.ping()
        assert refused.request("GET", url).status == 403
    forged = registry.client(repo)
    forged.token = forged.token[:-4] + ("AAAA" if not forged.token.endswith("AAAA") else "BBBB")
    assert forged.request("GET", url).status == 401
    expired = registry.client(repo)
    expired.token = registry.keys.mint([access(repo, "pull")], ttl=-60)
    assert expired.request("GET", url).status == 401
    anonymous = registry.anonymous()
    assert anonymous.request("GET", url).status == 401
    assert [path for path in flask.paths if path != "/v2/"] == [url] * 6, "every refusal came from the view"


def test_a_cached_token_stops_working_when_it_expires(pushed):
    registry, repo = pushed["registry"], pushed["repo"]
    expect(pushed["client"].get_manifest(repo, "v1"), 200)
    # Expired 8.5 s ago (exp is whole seconds): within the verifier's 10 s leeway for a moment, then not.
    short = registry.client(repo)
    short.token = registry.keys.mint([access(repo, "pull")], ttl=-8.5)
    expect(short.get_manifest(repo, "v1"), 200)
    wait_until(lambda: short.get_manifest(repo, "v1").status == 401, what="the cached token expired")


def test_a_tag_moved_by_another_process_is_seen(pushed, make_pooled):
    client, repo = pushed["client"], pushed["repo"]
    expect(client.get_manifest(repo, "v1"), 200)
    other = make_pooled()  # another registry process on the same database
    new_digest, _ = other.client(repo).push_image(repo, "v1", [b"layer two"])

    answer = wait_until(
        lambda: (reply := client.get_manifest(repo, "v1")).headers["Docker-Content-Digest"] == new_digest and reply,
        what="the moved tag seen by the first process",
    )
    assert answer.status == 200


def test_a_tag_moved_here_is_seen_at_once(pushed, monkeypatch):
    client, repo = pushed["client"], pushed["repo"]

    # A deaf listener: only the process's own invalidation can make this pass.
    def deaf(conn: Any) -> list[int | None]:
        conn.poll()
        conn.notifies.clear()
        return []

    monkeypatch.setattr(changes, "drain", deaf)
    expect(client.get_manifest(repo, "v1"), 200)
    new_digest, _ = client.push_image(repo, "v1", [b"layer three"])
    assert client.get_manifest(repo, "v1").headers["Docker-Content-Digest"] == new_digest
    expect(client.delete_manifest(repo, "v1"), 202)
    assert client.get_manifest(repo, "v1").error_codes == ["MANIFEST_UNKNOWN"]


def test_deletes_by_core_or_jobservice_are_seen(pushed):
    registry, client, repo = pushed["registry"], pushed["client"], pushed["repo"]
    digest = pushed["digest"]
    expect(client.get_manifest(repo, "v1"), 200)
    expect(client.get_manifest(repo, digest), 200)

    # What core's tag API does, in its own committed transaction.
    registry.sql("DELETE FROM tags WHERE name = 'v1' AND repository_id = (SELECT repository_id FROM repositories WHERE name = %s)", (repo,))
    wait_until(lambda: client.get_manifest(repo, "v1").status == 404, what="the deleted tag gone")
    assert client.get_manifest(repo, "v1").error_codes == ["MANIFEST_UNKNOWN"]
    expect(client.get_manifest(repo, digest), 200)

    registry.sql("DELETE FROM repositories WHERE name = %s", (repo,))
    wait_until(lambda: client.get_manifest(repo, digest).status == 404, what="the deleted repository gone")
    assert client.get_manifest(repo, digest).error_codes == ["NAME_UNKNOWN"]
