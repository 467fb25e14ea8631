"""Project members API: add users (by id or name) with each role, list/search/page, update the
role, remove, conflicts and bad input; roles take effect immediately."""

from __future__ import annotations

import pytest

from berth_core.services import rbac
from support.content import basic, build_world, count_rows, make_user


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def url(world, suffix: str = "") -> str:
    return f"/api/v2.0/projects/{world.private.project_id}/members{suffix}"


def test_list_members_json_and_entityname(world) -> None:
    response = world.client.get(url(world), headers=world.headers("guest"))
    assert response.status_code == 200
    members = response.get_json()
    assert response.headers["X-Total-Count"] == "5"
    by_name = {m["entity_name"]: m for m in members}
    developer = by_name[world.people["developer"].username]
    assert set(developer) == {"id", "project_id", "entity_name", "role_name", "role_id", "entity_id", "entity_type"}
    assert (developer["role_id"], developer["role_name"], developer["entity_type"]) == (2, "developer", "u")
    assert {m["role_name"] for m in members} == {"projectAdmin", "maintainer", "developer", "guest", "limitedGuest"}
    search = world.client.get(url(world, f"?entityname={world.people['maintainer'].username}"), headers=world.headers("guest"))
    assert [m["role_id"] for m in search.get_json()] == [rbac.MAINTAINER]
    paged = world.client.get(url(world, "?page=2&page_size=2"), headers=world.headers("guest"))
    assert len(paged.get_json()) == 2 and 'rel="prev"' in paged.headers["Link"]
    assert world.client.get(url(world), headers=world.headers("limited_guest")).status_code == 403
    assert world.client.get(url(world), headers=world.headers("non_member")).status_code == 403
    assert world.client.get(url(world), headers=world.headers("anonymous")).status_code == 401


@pytest.mark.parametrize("role_id", sorted(rbac.ROLE_NAMES))
def test_add_user_with_each_role_and_it_takes_effect(world, role_id: int) -> None:
    with world.cursor() as cur:
        person = make_user(cur, world.hasher)
    body = {"role_id": role_id, "member_user": {"username": person.username}}
    response = world.client.post(url(world), json=body, headers=world.headers("project_admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    member_id = int(response.headers["Location"].rsplit("/", 1)[1])
    member = world.client.get(url(world, f"/{member_id}"), headers=world.headers("project_admin")).get_json()
    assert (member["entity_id"], member["role_id"], member["role_name"]) == (person.user_id, role_id, rbac.ROLE_NAMES[role_id])
    auth = basic(person.username, person.password)
    project = world.client.get(f"/api/v2.0/projects/{world.private.project_id}", headers=auth).get_json()
    assert project["current_user_role_id"] == role_id
    with world.cursor() as cur:
        assert (
            count_rows(
                cur, "audit_log", "resource_type = 'member' AND operation = 'create' AND resource LIKE %(r)s", {"r": f"%{person.username}"}
            )
            == 1
        )


def test_add_by_user_id_conflict_and_bad_input(world) -> None:
    with world.cursor() as cur:
        person = make_user(cur, world.hasher)
    admin = world.headers("project_admin")
    body = {"role_id": 3, "member_user": {"user_id": person.user_id}}
    assert world.client.post(url(world), json=body, headers=world.headers("maintainer")).status_code == 403
    assert world.client.post(url(world), json=body, headers=admin).status_code == 201
    assert world.client.post(url(world), json=body, headers=admin).status_code == 409
    for bad in (
        {"role_id": 9, "member_user": {"user_id": person.user_id}},
        {"role_id": "1", "member_user": {"user_id": person.user_id}},
        {"role_id": 1},
        {"role_id": 1, "member_user": {"user_id": person.user_id}, "member_group": {"id": 1}},
        {"role_id": 1, "member_user": {"user_id": "x"}},
        {"role_id": 1, "member_user": {"email": "x@y"}},
        {"role_id": 1, "member_user": {"username": "a"}, "extra": 1},
    ):
        response = world.client.post(url(world), json=bad, headers=admin)
        assert response.status_code == 400, (bad, response.get_data(as_text=True))
    missing = world.client.post(url(world), json={"role_id": 1, "member_user": {"username": "nobody-here"}}, headers=admin)
    assert missing.status_code == 404


def test_update_and_delete_member(world) -> None:
    members = world.client.get(url(world), headers=world.headers("project_admin")).get_json()
    guest = next(m for m in members if m["entity_name"] == world.people["guest"].username)
    member_url = url(world, f"/{guest['id']}")
    assert world.client.put(member_url, json={"role_id": 2}, headers=world.headers("maintainer")).status_code == 403
    assert world.client.put(member_url, json={"role_id": 0}, headers=world.headers("project_admin")).status_code == 400
    assert world.client.put(member_url, json={"role_id": 2}, headers=world.headers("project_admin")).status_code == 200
    assert world.client.get(member_url, headers=world.headers("guest")).get_json()["role_id"] == 2
    assert world.client.delete(member_url, headers=world.headers("developer")).status_code == 403
    assert world.client.delete(member_url, headers=world.headers("project_admin")).status_code == 200
    assert world.client.get(member_url, headers=world.headers("project_admin")).status_code == 404
    assert world.client.get(f"/api/v2.0/projects/{world.private.project_id}", headers=world.headers("guest")).status_code == 403
    assert world.client.put(url(world, "/999999"), json={"role_id": 2}, headers=world.headers("project_admin")).status_code == 404
    assert world.client.get(url(world, "/abc"), headers=world.headers("project_admin")).status_code == 400
