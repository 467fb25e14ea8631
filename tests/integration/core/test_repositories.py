"""Repository API against real PostgreSQL: listing, visibility, paging, q/sort, get, update, delete."""

from __future__ import annotations

import pytest

from support.content import (
    count_rows,
    make_project,
    outbox_events,
    push_accessory,
    push_image,
    push_index,
    quota_used,
)


def _names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["name"] for r in response.get_json()]


def test_repository_json_matches_harbor(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "team/app", ["v1"])
        push_accessory(cur, world.private, "team/app", image)  # not counted: shown under its subject
        push_index(cur, world.private, "team/app", ["multi"])  # counts once; its children do not
    response = world.client.get(f"/api/v2.0/projects/{world.private.name}/repositories/team%252Fapp", headers=world.headers("guest"))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "project_id", "name", "description", "artifact_count", "pull_count", "creation_time", "update_time"}
    assert body["name"] == f"{world.private.name}/team/app"
    assert body["project_id"] == world.private.project_id
    assert body["artifact_count"] == 2
    assert body["pull_count"] == 0
    assert body["creation_time"].endswith("Z")


def test_list_all_repositories_shows_what_the_caller_may_see(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "priv", ["v1"])
        push_image(cur, world.public, "pub", ["v1"])
        hidden = make_project(cur, world.people["admin"])
        push_image(cur, hidden, "hidden", ["v1"])
    mine = {f"{world.private.name}/priv", f"{world.public.name}/pub"}
    everything = mine | {f"{hidden.name}/hidden"}

    def seen(who: str) -> set[str]:
        response = world.client.get("/api/v2.0/repositories?page_size=100", headers=world.headers(who))
        # Other tests' rows are rolled back, but the session database may hold committed ones.
        return set(_names(response)) & everything

    assert seen("admin") == everything
    assert seen("developer") == mine
    assert seen("limited_guest") == mine
    assert seen("non_member") == {f"{world.public.name}/pub"}
    assert seen("anonymous") == {f"{world.public.name}/pub"}


def test_paging_headers_and_sort(world) -> None:
    with world.cursor() as cur:
        for name in ("b", "d", "a", "c", "e"):
            push_image(cur, world.private, name, ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/repositories"
    first = world.client.get(f"{url}?page=1&page_size=2&sort=name", headers=world.headers("guest"))
    assert _names(first) == [f"{world.private.name}/{n}" for n in ("a", "b")]
    assert first.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    last = world.client.get(f"{url}?page=3&page_size=2&sort=name", headers=world.headers("guest"))
    assert _names(last) == [f"{world.private.name}/e"]
    assert 'rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]
    desc = world.client.get(f"{url}?sort=-name", headers=world.headers("guest"))
    assert _names(desc)[0] == f"{world.private.name}/e"
    beyond = world.client.get(f"{url}?page=9", headers=world.headers("guest"))
    assert _names(beyond) == [] and beyond.headers["X-Total-Count"] == "5"


def test_q_name_matches_substrings_like_harbor(world) -> None:
    with world.cursor() as cur:
        for name in ("frontend/web", "backend/api", "web-tools"):
            push_image(cur, world.private, name, ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/repositories"
    fuzzy = _names(world.client.get(f"{url}?q=name%3D~web&sort=name", headers=world.headers("guest")))
    assert fuzzy == [f"{world.private.name}/frontend/web", f"{world.private.name}/web-tools"]
    exact = _names(world.client.get(f"{url}?q=name%3Dapi", headers=world.headers("guest")))
    assert exact == [f"{world.private.name}/backend/api"]
    # LIKE wildcards in the value are literal characters.
    assert _names(world.client.get(f"{url}?q=name%3D~%25", headers=world.headers("guest"))) == []
    assert _names(world.client.get(f"{url}?q=name%3D~_", headers=world.headers("guest"))) == []


@pytest.mark.parametrize(
    "query",
    [
        "q=unknown%3D1",
        "q=name%3D%5B1~2%5D",  # range on a string key
        "q=pull_count%3Dabc",
        "q=creation_time%3D%5Bnot-a-time~%5D",
        "q=name%3D~x%27%3B%20DROP%20TABLE%20repositories%3B--",  # unbalanced quote
        "q=name%3D~x%3B%20DROP%20TABLE%20repositories--",  # harmless: a plain substring, no match
        "sort=name%3BDROP%20TABLE%20repositories",
        "sort=password",
        "sort=(select%201)",
        "page=0",
        "page=-1",
        "page=abc",
        "page_size=101",
        "page_size=99999999999999999999",
        "q=" + "a" * 3000,
    ],
)
def test_bad_list_parameters_are_400_in_harbor_envelope(world, query: str) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "x", ["v1"])
        before = count_rows(cur, "repositories")
    response = world.client.get(f"/api/v2.0/projects/{world.private.name}/repositories?{query}", headers=world.headers("guest"))
    if query.endswith("repositories--"):
        assert response.status_code == 200 and response.get_json() == []
    else:
        assert response.status_code == 400, response.get_data(as_text=True)
        error = response.get_json()["errors"][0]
        assert error["code"] == "BAD_REQUEST" and error["message"]
    with world.cursor() as cur:
        assert count_rows(cur, "repositories") == before


@pytest.mark.parametrize(
    ("segment", "status"),
    [
        ("nope", 404),
        ("a%252F..%252F..%252Fetc", 400),
        ("..%252F..", 400),
        ("UPPER", 400),
        ("a%25252Fb", 400),
        ("%2525", 400),
    ],
)
def test_bad_or_unknown_repository_names(world, segment: str, status: int) -> None:
    response = world.client.get(f"/api/v2.0/projects/{world.private.name}/repositories/{segment}", headers=world.headers("guest"))
    assert response.status_code == status
    assert response.get_json()["errors"][0]["code"] == ("NOT_FOUND" if status == 404 else "BAD_REQUEST")


def test_unknown_project_is_404(world) -> None:
    response = world.client.get("/api/v2.0/projects/no-such-project/repositories", headers=world.headers("admin"))
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "NOT_FOUND"


def test_update_description_and_audit(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/repositories/app"
    response = world.client.put(url, json={"description": "The app", "name": "ignored/echo"}, headers=world.headers("developer"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert world.client.get(url, headers=world.headers("guest")).get_json()["description"] == "The app"
    with world.cursor() as cur:
        cur.execute(
            "SELECT operation, resource_type, resource, username FROM audit_log WHERE project_id = %(p)s ORDER BY id DESC LIMIT 1",
            {"p": world.private.project_id},
        )
        assert cur.fetchone() == ("update", "repository", f"{world.private.name}/app", world.people["developer"].username)


@pytest.mark.parametrize(
    "body",
    [
        {"description": 5},
        {"description": "x", "colour": "red"},
        {"description": "x" * 70000},
        {"description": "a\u0000b"},
        ["description"],
        "just a string",
    ],
)
def test_update_rejects_bad_bodies(world, body) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/repositories/app"
    response = world.client.put(url, json=body, headers=world.headers("admin"))
    assert response.status_code == 400
    assert world.client.get(url, headers=world.headers("admin")).get_json()["description"] == ""


def test_update_rejects_malformed_json(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.put(
        f"/api/v2.0/projects/{world.private.name}/repositories/app",
        data="{not json",
        content_type="application/json",
        headers=world.headers("admin"),
    )
    assert response.status_code == 400


def test_delete_repository_removes_everything_and_queues_events(world) -> None:
    with world.cursor() as cur:
        keep = push_image(cur, world.private, "other", ["v1"])
        image = push_image(cur, world.private, "gone/app", ["v1", "latest"], shared_layers=())
        push_accessory(cur, world.private, "gone/app", image)
        index, _children = push_index(cur, world.private, "gone/app", ["multi"])
        blobs_before = count_rows(cur, "blobs")
        used_before = quota_used(cur, world.private)
    full = f"{world.private.name}/gone/app"
    url = f"/api/v2.0/projects/{world.private.name}/repositories/gone%252Fapp"
    response = world.client.delete(url, headers=world.headers("maintainer"))
    assert response.status_code == 200, response.get_data(as_text=True)
    with world.cursor() as cur:
        assert count_rows(cur, "repositories", "name = %(n)s", {"n": full}) == 0
        assert count_rows(cur, "artifacts", "repository_name = %(n)s", {"n": full}) == 0
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": keep.id}) == 1
        # Blobs stay for garbage collection; the project no longer pays for them.
        assert count_rows(cur, "blobs") == blobs_before
        assert quota_used(cur, world.private) < used_before
        assert quota_used(cur, world.private) == keep.size
        events = outbox_events(cur, full)
    kinds = sorted(kind for kind, _ in events)
    assert kinds == ["DELETE_ARTIFACT", "DELETE_ARTIFACT", "DELETE_REPOSITORY"]
    deleted = {e["event_data"]["resources"][0]["digest"]: e for kind, e in events if kind == "DELETE_ARTIFACT"}
    assert set(deleted) == {image.digest, index.digest}
    payload = deleted[image.digest]
    assert payload["operator"] == world.people["maintainer"].username
    repository = dict(payload["event_data"]["repository"])
    assert isinstance(repository.pop("date_created"), int)
    assert repository == {
        "name": "gone/app",
        "namespace": world.private.name,
        "repo_full_name": full,
        "repo_type": "private",
    }
    assert {r["tag"] for r in payload["event_data"]["resources"]} == {"v1", "latest"}
    assert payload["event_data"]["resources"][0]["resource_url"].startswith(f"berth.test/{full}:")


def test_developer_cannot_delete_repository(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.delete(f"/api/v2.0/projects/{world.private.name}/repositories/app", headers=world.headers("developer"))
    assert response.status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "repositories", "name = %(n)s", {"n": f"{world.private.name}/app"}) == 1
        assert outbox_events(cur, f"{world.private.name}/app") == []
