"""Users API against real PostgreSQL: create (admin, self-registration), policy, profile,
password change/reset, admin flag, soft delete, search, current user, and the bootstrap."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from berth_common.db import Database
from berth_core.app import create_app
from berth_core.db import configurations as config_db
from berth_migrations.runner import migrate
from support.content import basic, build_world, count_rows, unique


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def create(world, body: dict, who: str = "admin"):
    return world.client.post("/api/v2.0/users", json=body, headers=world.headers(who))


def new_user(world, password: str = "Secret123", **extra) -> tuple[int, str]:
    name = unique("u")
    response = create(world, {"username": name, "password": password, "email": f"{name}@x.test", **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1]), name


def test_admin_creates_user_and_it_can_log_in(world) -> None:
    user_id, name = new_user(world, realname="Test User", comment="hi")
    assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Secret123")).status_code == 200
    body = world.client.get(f"/api/v2.0/users/{user_id}", headers=world.headers("admin")).get_json()
    assert set(body) == {
        "user_id", "username", "email", "realname", "comment", "sysadmin_flag", "admin_role_in_auth", "creation_time", "update_time",
    }  # fmt: skip
    assert body["username"] == name and body["realname"] == "Test User" and body["sysadmin_flag"] is False
    assert "password" not in str(body).lower()
    with world.cursor() as cur:
        cur.execute("SELECT password_hash FROM users WHERE user_id = %s", (user_id,))
        stored = cur.fetchone()[0]
        assert stored.startswith("$argon2id$") and "Secret123" not in stored
        assert count_rows(cur, "audit_log", "operation = 'create' AND resource_type = 'user' AND resource = %(r)s", {"r": name}) == 1


@pytest.mark.parametrize(
    "password",
    ["short1A", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere", "x" * 129 + "A1", ""],
)
def test_password_policy(world, password: str) -> None:
    response = create(world, {"username": unique("p"), "password": password})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a,b", "password": "Secret123"},
        {"username": "a:b", "password": "Secret123"},
        {"username": "", "password": "Secret123"},
        {"username": "x" * 256, "password": "Secret123"},
        {"username": "fine", "password": "Secret123", "email": "not-an-email"},
        {"username": "fine", "password": "Secret123", "sysadmin_flag": True},  # unknown field
        {"username": 5, "password": "Secret123"},
        {"username": "fine", "password": ["Secret123"]},
    ],
)
def test_bad_user_bodies_are_400_and_write_nothing(world, body: dict) -> None:
    with world.cursor() as cur:
        before = count_rows(cur, "users")
    response = create(world, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    with world.cursor() as cur:
        assert count_rows(cur, "users") == before


def test_non_json_body_is_400(world) -> None:
    response = world.client.post("/api/v2.0/users", data="nope", headers={**world.headers("admin"), "Content-Type": "application/json"})
    assert response.status_code == 400
    response = world.client.post("/api/v2.0/users", json=["list"], headers=world.headers("admin"))
    assert response.status_code == 400


def test_duplicate_username_or_email_is_409(world) -> None:
    _, name = new_user(world)
    assert create(world, {"username": name, "password": "Secret123"}).status_code == 409
    assert create(world, {"username": unique("v"), "password": "Secret123", "email": f"{name}@x.test"}).status_code == 409


def test_only_admins_create_users_unless_self_registration(world) -> None:
    body = {"username": unique("self"), "password": "Secret123"}
    assert create(world, body, who="developer").status_code == 403
    assert create(world, body, who="anonymous").status_code == 401
    with world.cursor() as cur:
        config_db.upsert(cur, {"self_registration": True})
    response = create(world, body, who="anonymous")
    assert response.status_code == 201
    assert world.client.get("/api/v2.0/users/current", headers=basic(body["username"], "Secret123")).get_json()["sysadmin_flag"] is False


def test_list_and_search_users(world) -> None:
    _, name = new_user(world)
    assert world.client.get("/api/v2.0/users", headers=world.headers("developer")).status_code == 403
    assert world.client.get("/api/v2.0/users", headers=world.headers("anonymous")).status_code == 401
    listed = world.client.get(f"/api/v2.0/users?q=username%3D{name}", headers=world.headers("admin"))
    assert listed.status_code == 200 and [u["username"] for u in listed.get_json()] == [name]
    assert listed.headers["X-Total-Count"] == "1"
    fuzzy = world.client.get(f"/api/v2.0/users?q=username%3D~{name[:-2]}&page_size=1", headers=world.headers("admin"))
    assert fuzzy.status_code == 200 and len(fuzzy.get_json()) == 1
    found = world.client.get(f"/api/v2.0/users/search?username={name}", headers=world.headers("developer"))
    assert found.status_code == 200 and found.get_json() == [{"user_id": found.get_json()[0]["user_id"], "username": name}]
    assert world.client.get("/api/v2.0/users/search", headers=world.headers("developer")).status_code == 400
    assert world.client.get(f"/api/v2.0/users/search?username={name}").status_code == 401


@pytest.mark.parametrize("q", ["password_hash=x", "username=a;DROP TABLE users", "user_id=abc", "username=(a", "email=[a~b]"])
def test_user_list_rejects_bad_q(world, q: str) -> None:
    response = world.client.get("/api/v2.0/users", query_string={"q": q}, headers=world.headers("admin"))
    # "username=a;DROP TABLE users" is a legal exact match on a strange name: no rows, no harm.
    assert response.status_code in (400, 200)
    if response.status_code == 200:
        assert response.get_json() == []
    with world.cursor() as cur:
        assert count_rows(cur, "users") > 0


@pytest.mark.parametrize("sort", ["password_hash", "username;DROP TABLE users", "-", "username,,"])
def test_user_list_rejects_bad_sort(world, sort: str) -> None:
    response = world.client.get("/api/v2.0/users", query_string={"sort": sort}, headers=world.headers("admin"))
    assert response.status_code == 400


def test_profile_update_self_and_admin_only(world) -> None:
    user_id, name = new_user(world)
    me = basic(name, "Secret123")
    assert world.client.put(f"/api/v2.0/users/{user_id}", json={"realname": "Me"}, headers=me).status_code == 200
    other = world.people["developer"].user_id
    assert world.client.put(f"/api/v2.0/users/{other}", json={"realname": "Hacker"}, headers=me).status_code == 403
    assert world.client.get(f"/api/v2.0/users/{other}", headers=me).status_code == 403
    assert world.client.put(f"/api/v2.0/users/{user_id}", json={"comment": "by admin"}, headers=world.headers("admin")).status_code == 200
    body = world.client.get(f"/api/v2.0/users/{user_id}", headers=me).get_json()
    assert (body["realname"], body["comment"]) == ("Me", "by admin")
    assert world.client.put(f"/api/v2.0/users/{user_id}", json={"email": "bad"}, headers=me).status_code == 400
    assert world.client.put(f"/api/v2.0/users/{user_id}", json={"username": "x"}, headers=me).status_code == 200  # echoed, ignored
    assert world.client.get(f"/api/v2.0/users/{user_id}", headers=me).get_json()["username"] == name
    assert world.client.get("/api/v2.0/users/abc", headers=me).status_code == 400
    assert world.client.get("/api/v2.0/users/999999999", headers=world.headers("admin")).status_code == 404


def test_change_and_reset_password(world) -> None:
    user_id, name = new_user(world)
    url = f"/api/v2.0/users/{user_id}/password"
    me = basic(name, "Secret123")
    assert world.client.put(url, json={"old_password": "Wrong1234", "new_password": "Newer1234"}, headers=me).status_code == 403
    assert world.client.put(url, json={"new_password": "Newer1234"}, headers=me).status_code == 403  # old one required
    assert world.client.put(url, json={"old_password": "Secret123", "new_password": "weak"}, headers=me).status_code == 400
    assert world.client.put(url, json={"old_password": "Secret123", "new_password": "Secret123"}, headers=me).status_code == 400
    assert world.client.put(url, json={"old_password": "Secret123", "new_password": "Newer1234"}, headers=me).status_code == 200
    assert world.client.get("/api/v2.0/users/current", headers=me).status_code == 401
    assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Newer1234")).status_code == 200
    # An admin resets without the old password; another user cannot.
    assert world.client.put(url, json={"new_password": "Reset1234"}, headers=world.headers("developer")).status_code == 403
    assert world.client.put(url, json={"new_password": "Reset1234"}, headers=world.headers("admin")).status_code == 200
    assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Reset1234")).status_code == 200


def test_sysadmin_flag(world) -> None:
    user_id, name = new_user(world)
    url = f"/api/v2.0/users/{user_id}/sysadmin"
    assert world.client.put(url, json={"sysadmin_flag": True}, headers=basic(name, "Secret123")).status_code == 403
    assert world.client.put(url, json={"sysadmin_flag": "yes"}, headers=world.headers("admin")).status_code == 400
    assert world.client.put(url, json={"sysadmin_flag": True}, headers=world.headers("admin")).status_code == 200
    assert world.client.get("/api/v2.0/users", headers=basic(name, "Secret123")).status_code == 200
    own = world.people["admin"].user_id
    assert (
        world.client.put(f"/api/v2.0/users/{own}/sysadmin", json={"sysadmin_flag": False}, headers=world.headers("admin")).status_code
        == 403
    )


def test_delete_user_is_soft_and_frees_the_name(world) -> None:
    user_id, name = new_user(world)
    assert world.client.delete(f"/api/v2.0/users/{user_id}", headers=world.headers("developer")).status_code == 403
    assert world.client.delete(f"/api/v2.0/users/{user_id}", headers=world.headers("admin")).status_code == 200
    assert world.client.get(f"/api/v2.0/users/{user_id}", headers=world.headers("admin")).status_code == 404
    assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Secret123")).status_code == 401
    with world.cursor() as cur:
        cur.execute("SELECT deleted, username FROM users WHERE user_id = %s", (user_id,))
        assert cur.fetchone() == (True, f"{name}#{user_id}")
    new_user_again = create(world, {"username": name, "password": "Secret123", "email": f"{name}@x.test"})
    assert new_user_again.status_code == 201
    own = world.people["admin"].user_id
    assert world.client.delete(f"/api/v2.0/users/{own}", headers=world.headers("admin")).status_code == 403


def test_current_user_and_robots(world) -> None:
    body = world.client.get("/api/v2.0/users/current", headers=world.headers("developer")).get_json()
    assert body["username"] == world.people["developer"].username
    assert world.client.get("/api/v2.0/users/current").status_code == 401


def test_bootstrap_creates_admin_and_library_once(settings, empty_database_url) -> None:
    """Several workers starting at once on a fresh database create exactly one admin/library."""
    url = empty_database_url
    migrate(url, log=lambda _m: None)
    fresh = dataclasses.replace(settings, database_url=url)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            app = create_app(fresh)
            app.extensions["berth.db"].close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    check = Database(url)
    try:
        with check.transaction() as cur:
            assert count_rows(cur, "users", "username = 'admin' AND sysadmin_flag") == 1
            assert count_rows(cur, "projects", "name = 'library'") == 1
            assert count_rows(cur, "project_metadata", "name = 'public' AND value = 'true'") == 1
            cur.execute("DELETE FROM project_members")
            cur.execute("DELETE FROM projects WHERE name = 'library'")
        create_app(fresh).extensions["berth.db"].close()  # a restart does not bring library back
        with check.transaction() as cur:
            assert count_rows(cur, "projects", "name = 'library'") == 0
    finally:
        check.close()
    app = create_app(fresh)
    try:
        ok = app.test_client().get("/api/v2.0/users/current", headers=basic("admin", settings.admin_initial_password))
        assert ok.status_code == 200 and ok.get_json()["sysadmin_flag"] is True
    finally:
        app.extensions["berth.db"].close()
