"""The manifest reference cache: migration 0005's change notifications and the listener that obeys them.

Everything here commits for real (notifications are sent only at commit), on the session's test
database, with rows of a project that the ``pooled_project`` fixture removes afterwards.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg2
import pytest

from berth_registry.db import changes
from berth_registry.db.artifacts import ManifestRef
from berth_registry.services.ref_cache import ManifestRefCache
from support.waiting import wait_until

T = TypeVar("T")


def ref(repository_id: int, digest: str = "sha256:" + "a" * 64, tag_id: int | None = 1) -> ManifestRef:
    return ManifestRef(1, repository_id, 1, digest, "application/vnd.oci.image.manifest.v1+json", 100, tag_id)


@pytest.fixture
def cache(database_url: str) -> Iterator[ManifestRefCache]:
    built = ManifestRefCache(database_url, max_age=60, max_entries=100, application_name="berth-test-refs")
    assert built.wait_live(10), "the listener connected"
    yield built
    built.close()


@pytest.fixture
def sql(database_url: str) -> Iterator[Callable[..., list[tuple]]]:
    """Run one statement in its own committed transaction (as core or an operator would)."""
    conn = psycopg2.connect(database_url)

    def run(query: str, params: Any = None) -> list[tuple]:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    yield run
    conn.close()


@pytest.fixture
def notifications(database_url: str) -> Iterator[Callable[[], list[int | None]]]:
    """A second listener: what the triggers announced since the last call."""
    conn = changes.listen(database_url, "berth-test-observer")

    def received(wait: float = 2.0) -> list[int | None]:
        # Notifications of a committed transaction are already queued; a short wait covers delivery.
        seen: list[int | None] = []
        deadline = time.monotonic() + wait
        while True:
            seen.extend(changes.drain(conn))
            if seen or time.monotonic() > deadline:
                # Drain a last time: later statements of the same test are distinct commits.
                return seen + changes.drain(conn)
            select.select([conn], [], [], max(0.0, deadline - time.monotonic()))

    yield received
    conn.close()


# -- the triggers (migration 0005) ---------------------------------------------------------------


@pytest.fixture
def content(make_pooled) -> dict[str, Any]:
    """A committed repository with one image tagged v1 and v2, pushed through a pooled registry."""
    registry = make_pooled()
    repo = registry.repo()
    client = registry.client(repo)
    digest, body = client.push_image(repo, "v1", [b"layer"])
    client.put_manifest(repo, "v2", body)
    registry.flush_pulls()
    [(repository_id,)] = registry.sql("SELECT repository_id FROM repositories WHERE name = %s", (repo,))
    return {"registry": registry, "repo": repo, "digest": digest, "body": body, "repository_id": repository_id}


def test_tag_changes_announce_their_repository(content, sql, notifications):
    rid = content["repository_id"]
    notifications(wait=0.2)  # whatever the push itself announced
    sql("UPDATE tags SET name = 'v3' WHERE repository_id = %s AND name = 'v2'", (rid,))
    assert notifications() == [rid]
    sql("DELETE FROM tags WHERE repository_id = %s AND name = 'v3'", (rid,))
    assert notifications() == [rid]


def test_bookkeeping_updates_announce_nothing(content, sql, notifications):
    rid = content["repository_id"]
    notifications(wait=0.2)
    sql("UPDATE tags SET pull_time = now(), push_time = now() WHERE repository_id = %s", (rid,))
    sql("UPDATE artifacts SET pull_time = now(), push_time = now() WHERE repository_id = %s", (rid,))
    sql("UPDATE repositories SET pull_count = pull_count + 1, update_time = now() WHERE repository_id = %s", (rid,))
    # A tag re-pointed at the artifact it already names changes nothing either.
    sql("UPDATE tags SET artifact_id = artifact_id WHERE repository_id = %s", (rid,))
    assert notifications(wait=0.3) == []


def test_deleting_a_repository_announces_it_once(content, sql, notifications):
    rid = content["repository_id"]
    notifications(wait=0.2)
    # Cascades to both tags and the artifact: one transaction, identical payloads folded into one.
    sql("DELETE FROM repositories WHERE repository_id = %s", (rid,))
    assert notifications() == [rid]


def test_artifact_delete_announces_its_repository(content, sql, notifications):
    rid = content["repository_id"]
    notifications(wait=0.2)
    sql("DELETE FROM artifacts WHERE repository_id = %s AND digest = %s", (rid, content["digest"]))
    assert notifications() == [rid]


def test_truncate_announces_everything(database_url, notifications):
    # On a scratch table with the same trigger, so the shared test database keeps its rows.
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE scratch (repository_id integer)")
            cur.execute("CREATE TRIGGER t AFTER TRUNCATE ON scratch FOR EACH STATEMENT EXECUTE FUNCTION berth_notify_manifest_refs()")
            cur.execute("TRUNCATE scratch")
    finally:
        conn.close()
    assert notifications() == [None]


# -- the cache and its listener ------------------------------------------------------------------


def test_a_notification_drops_that_repository_only(cache, sql):
    cache.put("p/a", "v1", ref(101), cache.generation())
    cache.put("p/a", "sha256:" + "a" * 64, ref(101, tag_id=None), cache.generation())
    cache.put("p/b", "v1", ref(102), cache.generation())
    assert cache.get("p/a", "v1") == ref(101)

    sql("NOTIFY berth_manifest_refs, '101'")

    wait_until(lambda: cache.get("p/a", "v1") is None, what="the notified repository dropped")
    assert cache.get("p/a", "sha256:" + "a" * 64) is None
    assert cache.get("p/b", "v1") == ref(102)


def test_an_unknown_payload_drops_everything(cache, sql):
    cache.put("p/b", "v1", ref(102), cache.generation())
    sql("NOTIFY berth_manifest_refs, 'something else'")
    wait_until(lambda: len(cache) == 0, what="everything dropped")


def test_an_answer_read_before_a_change_is_not_stored(cache):
    since = cache.generation()  # the lookup begins...
    cache.invalidate(101)  # ...a change to its repository is announced meanwhile...
    cache.put("p/a", "v1", ref(101), since)  # ...so its (possibly old) answer is refused
    assert cache.get("p/a", "v1") is None
    # Other repositories' answers, and lookups begun after the change, are kept.
    cache.put("p/b", "v1", ref(102), since)
    cache.put("p/a", "v1", ref(101), cache.generation())
    assert cache.get("p/b", "v1") == ref(102)
    assert cache.get("p/a", "v1") == ref(101)


def test_losing_the_listen_connection_drops_everything_until_it_is_back(cache, sql):
    cache.put("p/a", "v1", ref(101), cache.generation())
    since = cache.generation()
    [(killed,)] = sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'berth-test-refs'")
    assert killed == 1

    wait_until(lambda: cache.get("p/a", "v1") is None, what="the cache dropped on connection loss")
    assert cache.wait_live(10), "the listener reconnected"
    # A lookup that began before or during the outage may have missed a change: not stored.
    cache.put("p/a", "v1", ref(101), since)
    assert cache.get("p/a", "v1") is None
    cache.put("p/a", "v1", ref(101), cache.generation())
    assert cache.get("p/a", "v1") == ref(101)
    # And the new connection hears changes.
    sql("NOTIFY berth_manifest_refs, '101'")
    wait_until(lambda: cache.get("p/a", "v1") is None, what="a notification on the new connection")


def test_nothing_is_stored_while_the_database_is_unreachable():
    cache = ManifestRefCache("postgresql://postgres@127.0.0.1:1/none", max_age=60, max_entries=10)
    try:
        assert not cache.wait_live(0.3)
        cache.put("p/a", "v1", ref(101), cache.generation())
        assert cache.get("p/a", "v1") is None
    finally:
        cache.close()


def test_entries_expire_and_the_oldest_are_evicted(database_url):
    cache = ManifestRefCache(database_url, max_age=0.2, max_entries=2)
    try:
        assert cache.wait_live(10)
        for index, name in enumerate(("p/a", "p/b", "p/c")):
            cache.put(name, "v1", ref(100 + index), cache.generation())
        assert cache.get("p/a", "v1") is None, "evicted, oldest first"
        assert cache.get("p/c", "v1") == ref(102)
        wait_until(lambda: cache.get("p/c", "v1") is None, what="expiry after max_age")
    finally:
        cache.close()


def test_a_disabled_cache_stores_nothing_and_starts_no_listener(database_url):
    cache = ManifestRefCache(database_url, max_age=0, max_entries=10)
    cache.put("p/a", "v1", ref(101), cache.generation())
    assert cache.get("p/a", "v1") is None
    assert not cache.wait_live(0.05)
    cache.close()
