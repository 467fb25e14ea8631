"""LDAP against a real slapd: login and onboarding, groups (memberOf and the search fallback),
the admin group, groups as project members, the token service, /ldap endpoints, /usergroups."""

from __future__ import annotations

import socket

import jwt
import pytest

from berth_core.db import configurations as config_db
from support.content import basic, build_world, count_rows
from support.ldap import PASSWORDS, slapd_server


@pytest.fixture(scope="module")
def directory():
    with slapd_server() as directory:
        yield directory


@pytest.fixture
def world(settings, db, directory):
    world = build_world(settings, db)
    configs = world.app.extensions["berth.configs"]
    with world.cursor() as cur:
        configs.update(cur, directory.config_items())
        # The test world holds many local users, so auth_mode is set below the API's rule.
        config_db.upsert(cur, {"auth_mode": "ldap_auth"})
    return world


def ldap_user(uid: str) -> dict[str, str]:
    return basic(uid, PASSWORDS[uid])


def test_first_login_onboards_the_user_and_its_groups(world, directory) -> None:
    response = world.client.get("/api/v2.0/users/current", headers=ldap_user("alice"))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["username"], body["email"], body["realname"]) == ("alice", "alice@ldap.berth.test", "Alice Tester")
    assert body["sysadmin_flag"] is False and body["admin_role_in_auth"] is False
    with world.cursor() as cur:
        cur.execute("SELECT auth_source, ldap_dn, password_hash FROM users WHERE username = 'alice'")
        assert cur.fetchone() == ("ldap", directory.user_dn("alice"), None)
        cur.execute(
            """SELECT g.group_name, g.ldap_group_dn FROM user_group_members m JOIN user_groups g ON g.id = m.group_id
               JOIN users u ON u.user_id = m.user_id WHERE u.username = 'alice' ORDER BY g.group_name"""
        )
        assert cur.fetchall() == [("developers", directory.group_dn("developers")), ("ops", directory.group_dn("ops"))]
    # A second login finds the same user (no duplicate).
    assert world.client.get("/api/v2.0/users/current", headers=ldap_user("alice")).status_code == 200
    with world.cursor() as cur:
        assert count_rows(cur, "users", "username = 'alice'") == 1


@pytest.mark.parametrize(
    "username,password",
    [
        ("alice", "wrong"),
        ("alice", ""),
        ("nobody", "whatever1A"),
        ("*", "Alice-Secret-1"),
        ("alice)(uid=*", "Alice-Secret-1"),
        ("bob", PASSWORDS["alice"]),
    ],
)
def test_bad_ldap_credentials(world, username: str, password: str) -> None:
    response = world.client.get("/api/v2.0/users/current", headers=basic(username, password))
    assert response.status_code == 401
    with world.cursor() as cur:
        assert count_rows(cur, "users", "username = %(u)s", {"u": username}) == 0


def test_admin_group_makes_a_system_admin(world) -> None:
    response = world.client.get("/api/v2.0/users/current", headers=ldap_user("dave"))
    assert response.get_json()["admin_role_in_auth"] is True
    assert world.client.get("/api/v2.0/users", headers=ldap_user("dave")).status_code == 200
    assert world.client.get("/api/v2.0/users", headers=ldap_user("bob")).status_code == 403


def test_groups_without_member_of_are_found_by_search(world, directory) -> None:
    assert world.client.get("/api/v2.0/users/current", headers=ldap_user("carol")).status_code == 200
    with world.cursor() as cur:
        cur.execute(
            """SELECT g.ldap_group_dn FROM user_group_members m JOIN user_groups g ON g.id = m.group_id
               JOIN users u ON u.user_id = m.user_id WHERE u.username = 'carol'"""
        )
        assert [row[0] for row in cur.fetchall()] == [directory.group_dn("qa")]


def test_groups_outside_the_group_base_are_ignored(world) -> None:
    assert world.client.get("/api/v2.0/users/current", headers=ldap_user("eve")).status_code == 200
    with world.cursor() as cur:
        assert count_rows(cur, "user_groups", "group_name = 'outsiders'") == 0


def test_ldap_group_as_project_member(world, directory, settings) -> None:
    members_url = f"/api/v2.0/projects/{world.private.project_id}/members"
    body = {"role_id": 2, "member_group": {"ldap_group_dn": directory.group_dn("developers"), "group_type": 1}}
    response = world.client.post(members_url, json=body, headers=world.headers("project_admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    listed = world.client.get(members_url, headers=world.headers("project_admin")).get_json()
    group = next(m for m in listed if m["entity_type"] == "g")
    assert (group["entity_name"], group["role_id"]) == ("developers", 2)
    # bob is no direct member; his LDAP group makes him a Developer.
    project = world.client.get(f"/api/v2.0/projects/{world.private.project_id}", headers=ldap_user("bob"))
    assert project.status_code == 200 and project.get_json()["current_user_role_id"] == 2
    token = world.client.get(
        "/service/token",
        query_string={"service": "berth-registry", "scope": f"repository:{world.private.name}/app:pull,push,delete"},
        headers=ldap_user("bob"),
    ).get_json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["access"][0]["actions"] == ["pull", "push"]
    # carol is not in the group.
    assert world.client.get(f"/api/v2.0/projects/{world.private.project_id}", headers=ldap_user("carol")).status_code == 403
    assert world.client.post(members_url, json=body, headers=world.headers("project_admin")).status_code == 409


def test_user_member_by_name_is_onboarded_from_ldap(world) -> None:
    members_url = f"/api/v2.0/projects/{world.private.project_id}/members"
    body = {"role_id": 3, "member_user": {"username": "bob"}}
    assert world.client.post(members_url, json=body, headers=world.headers("project_admin")).status_code == 201
    with world.cursor() as cur:
        assert count_rows(cur, "users", "username = 'bob' AND auth_source = 'ldap'") == 1
    missing = world.client.post(
        members_url, json={"role_id": 3, "member_user": {"username": "zed"}}, headers=world.headers("project_admin")
    )
    assert missing.status_code == 404


def test_local_admin_still_logs_in_and_ldap_users_keep_their_password_in_ldap(world, settings) -> None:
    assert world.client.get("/api/v2.0/users/current", headers=basic("admin", settings.admin_initial_password)).status_code == 200
    alice = world.client.get("/api/v2.0/users/current", headers=ldap_user("alice")).get_json()
    change = world.client.put(
        f"/api/v2.0/users/{alice['user_id']}/password",
        json={"old_password": PASSWORDS["alice"], "new_password": "Changed-Secret-2"},
        headers=ldap_user("alice"),
    )
    assert change.status_code == 403


def test_ldap_down_is_401_without_throttling(world, directory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with world.cursor() as cur:
        config_db.upsert(cur, {"ldap_url": f"ldap://127.0.0.1:{closed_port}", "ldap_timeout": 1})
    response = world.client.get("/api/v2.0/users/current", headers=ldap_user("alice"))
    assert response.status_code == 401 and "LDAP" in response.get_json()["errors"][0]["message"]
    with world.cursor() as cur:
        assert count_rows(cur, "login_failures", "username = 'alice'") == 0


def test_ping(world, directory) -> None:
    url = "/api/v2.0/ldap/ping"
    assert world.client.post(url, headers=world.headers("admin")).get_json() == {"success": True, "message": "ldap ping succeeded"}
    wrong = world.client.post(url, json={"ldap_search_password": "nope"}, headers=world.headers("admin")).get_json()
    assert wrong["success"] is False and "bind" in wrong["message"]
    # Another server does not get the stored password.
    elsewhere = world.client.post(url, json={"ldap_url": directory.url.replace("127.0.0.1", "localhost")}, headers=world.headers("admin"))
    assert elsewhere.get_json()["success"] is False
    assert world.client.post(url, json={"ldap_scope": "two"}, headers=world.headers("admin")).status_code == 400
    assert world.client.post(url, json={"ldap_unknown": 1}, headers=world.headers("admin")).status_code == 400
    assert world.client.post(url, headers=world.headers("developer")).status_code == 403


def test_user_search_and_import(world) -> None:
    found = world.client.get("/api/v2.0/ldap/users/search?username=alice", headers=world.headers("admin")).get_json()
    assert found == [{"username": "alice", "realname": "Alice Tester", "email": "alice@ldap.berth.test"}]
    everyone = world.client.get("/api/v2.0/ldap/users/search", headers=world.headers("admin")).get_json()
    assert {u["username"] for u in everyone} == set(PASSWORDS)
    imported = world.client.post("/api/v2.0/ldap/users/import", json={"ldap_uid_list": ["bob", "nobody"]}, headers=world.headers("admin"))
    assert imported.status_code == 404
    assert imported.get_json() == [{"uid": "nobody", "error": "not found in LDAP"}]
    with world.cursor() as cur:
        assert count_rows(cur, "users", "username = 'bob'") == 1
    again = world.client.post("/api/v2.0/ldap/users/import", json={"ldap_uid_list": ["bob"]}, headers=world.headers("admin"))
    assert again.get_json() == [{"uid": "bob", "error": "user already exists"}]
    assert world.client.post("/api/v2.0/ldap/users/import", json={"ldap_uid_list": []}, headers=world.headers("admin")).status_code == 400
    assert world.client.get("/api/v2.0/ldap/users/search", headers=world.headers("developer")).status_code == 403


def test_group_search(world, directory) -> None:
    by_name = world.client.get("/api/v2.0/ldap/groups/search?groupname=developers", headers=world.headers("admin")).get_json()
    assert by_name == [{"group_name": "developers", "group_type": 1, "ldap_group_dn": directory.group_dn("developers")}]
    by_dn = world.client.get(f"/api/v2.0/ldap/groups/search?groupdn={directory.group_dn('ops')}", headers=world.headers("admin")).get_json()
    assert [g["group_name"] for g in by_dn] == ["ops"]
    outside = world.client.get(f"/api/v2.0/ldap/groups/search?groupdn={directory.group_dn('outsiders')}", headers=world.headers("admin"))
    assert outside.get_json() == []
    wildcard = world.client.get("/api/v2.0/ldap/groups/search?groupname=*", headers=world.headers("admin")).get_json()
    assert {g["group_name"] for g in wildcard} == {"developers", "ops", "berth-admins", "qa"}


def test_usergroups_api(world, directory) -> None:
    admin = world.headers("admin")
    created = world.client.post("/api/v2.0/usergroups", json={"group_type": 1, "ldap_group_dn": directory.group_dn("ops")}, headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    group_url = created.headers["Location"]
    group = world.client.get(group_url, headers=admin).get_json()
    assert group == {"id": group["id"], "group_name": "ops", "group_type": 1, "ldap_group_dn": directory.group_dn("ops")}
    duplicate = world.client.post("/api/v2.0/usergroups", json={"group_type": 1, "ldap_group_dn": directory.group_dn("ops")}, headers=admin)
    assert duplicate.status_code == 409
    missing = world.client.post(
        "/api/v2.0/usergroups", json={"group_type": 1, "ldap_group_dn": f"cn=nope,{directory.groups_dn}"}, headers=admin
    )
    assert missing.status_code == 400
    assert world.client.post("/api/v2.0/usergroups", json={"group_type": 2, "group_name": "http"}, headers=admin).status_code == 400
    assert world.client.post("/api/v2.0/usergroups", json={"group_type": 1}, headers=admin).status_code == 400
    assert world.client.get("/api/v2.0/usergroups", headers=world.headers("developer")).status_code == 403
    listed = world.client.get("/api/v2.0/usergroups?group_name=op", headers=admin)
    assert "ops" in [g["group_name"] for g in listed.get_json()]
    searched = world.client.get("/api/v2.0/usergroups/search?groupname=op", headers=world.headers("developer")).get_json()
    assert searched == [{"id": group["id"], "group_name": "ops", "group_type": 1}]
    assert world.client.put(group_url, json={"group_name": "operations"}, headers=admin).status_code == 200
    assert world.client.get(group_url, headers=admin).get_json()["group_name"] == "operations"
    members_url = f"/api/v2.0/projects/{world.private.project_id}/members"
    added = world.client.post(members_url, json={"role_id": 3, "member_group": {"id": group["id"]}}, headers=world.headers("project_admin"))
    assert added.status_code == 201
    assert world.client.delete(group_url, headers=admin).status_code == 200
    assert world.client.get(group_url, headers=admin).status_code == 404
    with world.cursor() as cur:
        assert count_rows(cur, "project_members", "entity_type = 'g' AND entity_id = %(g)s", {"g": group["id"]}) == 0
