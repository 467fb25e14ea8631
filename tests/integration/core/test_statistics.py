"""``/api/v2.0/statistics`` against real PostgreSQL: who sees which counts (Harbor's rules)."""

from __future__ import annotations

from support.content import CoreWorld, make_project, push_image


def _stats(world: CoreWorld, who: str) -> dict:
    response = world.client.get("/api/v2.0/statistics", headers=world.headers(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


KEYS = {
    "private_project_count",
    "private_repo_count",
    "public_project_count",
    "public_repo_count",
    "total_project_count",
    "total_repo_count",
    "total_storage_consumption",
}


def test_anonymous_is_refused(world) -> None:
    response = world.client.get("/api/v2.0/statistics")
    assert response.status_code == 401


def test_admin_sees_totals_and_storage(world) -> None:
    # Counts are compared before and after, so rows other test sessions committed do not matter.
    before = _stats(world, "admin")
    assert set(before) == KEYS
    with world.cursor() as cur:
        a = push_image(cur, world.private, "one", ["v1"])
        b = push_image(cur, world.private, "two", ["v1"])
        c = push_image(cur, world.public, "pub", ["v1"])
        make_project(cur, world.people["admin"], public=True)
    after = _stats(world, "admin")
    delta = {key: after[key] - before[key] for key in KEYS}
    assert delta == {
        "private_project_count": 0,
        "private_repo_count": 2,
        "public_project_count": 1,
        "public_repo_count": 1,
        "total_project_count": 1,
        "total_repo_count": 3,
        "total_storage_consumption": a.size + b.size + c.size,
    }
    assert after["total_project_count"] == after["private_project_count"] + after["public_project_count"]


def test_members_see_their_private_projects_only(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "one", ["v1"])
        push_image(cur, world.private, "two", ["v1"])
        hidden = make_project(cur, world.people["admin"])
        push_image(cur, hidden, "secret", ["v1"])
    member = _stats(world, "limited_guest")
    assert member["private_project_count"] == 1 and member["private_repo_count"] == 2
    assert member["total_project_count"] == 0 and member["total_storage_consumption"] == 0
    outsider = _stats(world, "non_member")
    assert outsider["private_project_count"] == 0 and outsider["private_repo_count"] == 0
    assert outsider["public_project_count"] == member["public_project_count"] >= 1
