"""Tag API against real PostgreSQL: list, create, delete, with events, audit and bad input."""

from __future__ import annotations

import pytest

from support.content import CoreWorld, count_rows, outbox_events, push_image


def _tags_url(world: CoreWorld, reference: str = "v1", repo: str = "app") -> str:
    return f"/api/v2.0/projects/{world.private.name}/repositories/{repo}/artifacts/{reference}/tags"


def test_list_tags_json_q_sort_paging(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1", "v2", "latest", "rc1"])
    response = world.client.get(_tags_url(world) + "?sort=name&page_size=2", headers=world.headers("limited_guest"))
    assert response.status_code == 200
    body = response.get_json()
    assert [t["name"] for t in body] == ["latest", "rc1"]
    assert response.headers["X-Total-Count"] == "4"
    assert set(body[0]) == {"id", "repository_id", "artifact_id", "name", "push_time", "pull_time", "immutable"}
    assert body[0]["artifact_id"] == image.id
    fuzzy = world.client.get(_tags_url(world) + "?q=name%3D~v", headers=world.headers("guest")).get_json()
    assert sorted(t["name"] for t in fuzzy) == ["v1", "v2"]
    bad = world.client.get(_tags_url(world) + "?q=colour%3Dred", headers=world.headers("guest"))
    assert bad.status_code == 400


def test_create_tag_then_use_it_as_reference(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "a/b", ["v1"])
    url = _tags_url(world, repo="a%252Fb")
    response = world.client.post(url, json={"name": "release-1.0"}, headers=world.headers("developer"))
    assert response.status_code == 201, response.get_data(as_text=True)
    got = world.client.get(
        f"/api/v2.0/projects/{world.private.name}/repositories/a%252Fb/artifacts/release-1.0", headers=world.headers("guest")
    )
    assert got.get_json()["id"] == image.id
    full = f"{world.private.name}/a/b"
    with world.cursor() as cur:
        ((kind, payload),) = outbox_events(cur, full)
        cur.execute("SELECT operation, resource_type, resource, username FROM audit_log ORDER BY id DESC LIMIT 1")
        audit = cur.fetchone()
    assert kind == "CREATE_TAG" and payload["event_data"]["resources"][0]["tag"] == "release-1.0"
    assert audit == ("create", "tag", f"{full}:release-1.0", world.people["developer"].username)


def test_create_existing_tag_is_409_even_on_another_artifact(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
        other = push_image(cur, world.private, "app", ["v2"])
    response = world.client.post(_tags_url(world, other.digest), json={"name": "v1"}, headers=world.headers("admin"))
    assert response.status_code == 409
    assert response.get_json()["errors"][0]["code"] == "CONFLICT"
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "artifact_id = %(id)s", {"id": other.id}) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": 7},
        {"name": None},
        {"name": "a/b"},
        {"name": ".hidden"},
        {"name": "x" * 129},
        {"name": "v3", "extra": True},
        ["v3"],
    ],
)
def test_create_tag_bad_bodies_are_400(world, body) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1"])
    response = world.client.post(_tags_url(world), json=body, headers=world.headers("admin"))
    assert response.status_code == 400, response.get_data(as_text=True)
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "artifact_id = %(id)s", {"id": image.id}) == 1


def test_create_tag_on_unknown_artifact_is_404(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.post(_tags_url(world, "missing"), json={"name": "v2"}, headers=world.headers("admin"))
    assert response.status_code == 404


def test_guest_cannot_create_tags(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.post(_tags_url(world), json={"name": "v2"}, headers=world.headers("guest"))
    assert response.status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "name = 'v2'") == 0


def test_delete_tag_keeps_the_artifact(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1", "keep"])
    response = world.client.delete(_tags_url(world, "keep") + "/v1", headers=world.headers("maintainer"))
    assert response.status_code == 200
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "artifact_id = %(id)s", {"id": image.id}) == 1
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": image.id}) == 1
        ((kind, payload),) = outbox_events(cur, f"{world.private.name}/app")
    assert kind == "DELETE_TAG" and payload["event_data"]["resources"][0]["tag"] == "v1"


def test_delete_tag_of_another_artifact_is_404(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
        other = push_image(cur, world.private, "app", ["v2"])
    response = world.client.delete(_tags_url(world, other.digest) + "/v1", headers=world.headers("admin"))
    assert response.status_code == 404
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "name = 'v1'") == 1


def test_developer_cannot_delete_tags(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.delete(_tags_url(world) + "/v1", headers=world.headers("developer"))
    assert response.status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "tags", "name = 'v1'") == 1
