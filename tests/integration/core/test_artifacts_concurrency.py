"""Concurrent content changes through a real connection pool, on a database of their own:
racing deletes and tag creations end in one success and one clean 4xx, never a 500 or a
half-done change."""

from __future__ import annotations

import threading

import pytest

from berth_common.db import Database
from berth_core.app import create_app
from berth_migrations.runner import migrate
from support.content import core_settings, outbox_events, populate_world, push_image


@pytest.fixture
def pooled(tmp_path, empty_database_url):
    migrate(empty_database_url, log=lambda _msg: None)
    database = Database(empty_database_url, maxconn=6)
    app = create_app(core_settings(tmp_path, empty_database_url), db=database)
    world = populate_world(app, database)
    yield world
    database.close()


def _race(world, requests: list[tuple[str, str, dict]]) -> list[int]:
    """Send the requests at the same moment from separate threads; their status codes."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def send(index: int, method: str, path: str, kwargs: dict) -> None:
        client = world.app.test_client()
        barrier.wait()
        statuses[index] = client.open(path, method=method, headers=world.headers("admin"), **kwargs).status_code

    threads = [threading.Thread(target=send, args=(i, *req)) for i, req in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_racing_deletes_of_one_artifact(pooled) -> None:
    with pooled.db.transaction() as cur:
        push_image(cur, pooled.private, "app", ["v1"])
    url = f"/api/v2.0/projects/{pooled.private.name}/repositories/app/artifacts/v1"
    for _round in range(3):
        statuses = _race(pooled, [("DELETE", url, {}), ("DELETE", url, {})])
        assert sorted(statuses) == [200, 404]
        with pooled.db.transaction() as cur:
            assert [kind for kind, _ in outbox_events(cur, f"{pooled.private.name}/app")].count("DELETE_ARTIFACT") == _round + 1
            push_image(cur, pooled.private, "app", ["v1"])


def test_racing_tag_creation(pooled) -> None:
    with pooled.db.transaction() as cur:
        push_image(cur, pooled.private, "app", ["v1"])
    url = f"/api/v2.0/projects/{pooled.private.name}/repositories/app/artifacts/v1/tags"
    statuses = _race(pooled, [("POST", url, {"json": {"name": "same"}}) for _ in range(4)])
    assert sorted(statuses) == [201, 409, 409, 409]
    with pooled.db.transaction() as cur:
        cur.execute("SELECT count(*) FROM tags WHERE name = 'same'")
        assert cur.fetchone()[0] == 1


def test_racing_delete_and_copy_into_the_same_project(pooled) -> None:
    """Both take the quota row first, so they serialize instead of deadlocking."""
    with pooled.db.transaction() as cur:
        push_image(cur, pooled.private, "app", ["v1"])
        push_image(cur, pooled.public, "src", ["v1"])
    base = f"/api/v2.0/projects/{pooled.private.name}/repositories"
    statuses = _race(
        pooled,
        [
            ("DELETE", f"{base}/app/artifacts/v1", {}),
            ("POST", f"{base}/copy/artifacts?from={pooled.public.name}/src:v1", {}),
        ],
    )
    assert statuses == [200, 201]
    with pooled.db.transaction() as cur:
        cur.execute(
            """
            SELECT q.used_storage, (SELECT coalesce(sum(b.size), 0) FROM project_blobs pb JOIN blobs b USING (blob_id)
                                    WHERE pb.project_id = q.project_id)
            FROM quotas q WHERE q.project_id = %s
            """,
            (pooled.private.project_id,),
        )
        used, linked = cur.fetchone()
    assert used == linked > 0
