"""``/api/v2.0/search`` against real PostgreSQL: projects and repositories the caller may see."""

from __future__ import annotations

import pytest

from support.content import CoreWorld, push_image, unique


def _search(world: CoreWorld, q: str, who: str) -> dict:
    response = world.client.get(f"/api/v2.0/search?q={q}", headers=world.headers(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_search_finds_visible_projects_and_repositories(world) -> None:
    word = unique("needle")
    with world.cursor() as cur:
        push_image(cur, world.private, f"{word}/private-app", ["v1"])
        push_image(cur, world.public, f"{word}/public-app", ["v1"])
        push_image(cur, world.public, "unrelated", ["v1"])
    member = _search(world, word, "developer")
    assert {r["repository_name"] for r in member["repository"]} == {
        f"{world.private.name}/{word}/private-app",
        f"{world.public.name}/{word}/public-app",
    }
    public_hit = next(r for r in member["repository"] if r["project_public"])
    assert public_hit == {
        "project_id": world.public.project_id,
        "project_name": world.public.name,
        "project_public": True,
        "repository_name": f"{world.public.name}/{word}/public-app",
        "pull_count": 0,
        "artifact_count": 1,
    }
    for who in ("non_member", "anonymous"):
        outsider = _search(world, word, who)
        assert [r["repository_name"] for r in outsider["repository"]] == [f"{world.public.name}/{word}/public-app"]


def test_search_projects_by_name(world) -> None:
    member = _search(world, world.private.name, "guest")
    (project,) = member["project"]
    assert project["name"] == world.private.name and project["project_id"] == world.private.project_id
    assert project["repo_count"] == 0 and project["current_user_role_id"] == 3
    assert _search(world, world.private.name, "non_member")["project"] == []
    assert _search(world, world.private.name, "admin")["project"][0]["name"] == world.private.name


def test_wildcards_are_literal(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.public, "abc", ["v1"])
    result = _search(world, "%25", "admin")  # "%" must not match everything
    assert result["repository"] == [] and result["project"] == []


@pytest.mark.parametrize("query", ["", "?q=" + "x" * 300, "?q=a%00b"])
def test_bad_search_is_400(world, query: str) -> None:
    response = world.client.get(f"/api/v2.0/search{query}", headers=world.headers("admin"))
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
