"""Configurations API: Harbor's item names, types and GET shape, strict validation with nothing
half-written, write-only encrypted secrets, and the auth_mode rule (only while admin is alone)."""

from __future__ import annotations

import dataclasses

import pytest

from berth_common.db import Database
from berth_core.app import create_app
from berth_core.db import configurations as config_db
from berth_migrations.runner import migrate
from support.content import basic, build_world, count_rows, unique

URL = "/api/v2.0/configurations"


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def stored(world) -> dict:
    with world.cursor() as cur:
        return config_db.load_all(cur)


def test_get_shape_and_defaults(world) -> None:
    response = world.client.get(URL, headers=world.headers("admin"))
    assert response.status_code == 200
    items = response.get_json()
    names = (
        "auth_mode", "self_registration", "token_expiration", "project_creation_restriction", "robot_token_duration",
        "robot_name_prefix", "read_only", "storage_per_project", "ldap_url", "ldap_scope", "audit_log_forward_endpoint",
    )  # fmt: skip
    for name in names:
        assert set(items[name]) == {"value", "editable"}, name
    assert items["auth_mode"]["value"] == "db_auth"
    assert items["token_expiration"]["value"] == 30
    assert items["read_only"]["value"] is False
    assert items["robot_name_prefix"]["value"] == "robot$"
    assert items["storage_per_project"]["value"] == -1
    assert "ldap_search_password" not in items
    # The test world has many users, so auth_mode cannot change now.
    assert items["auth_mode"]["editable"] is False


@pytest.mark.parametrize("who,status", [("developer", 403), ("project_admin", 403), ("anonymous", 401)])
def test_only_admins(world, who: str, status: int) -> None:
    assert world.client.get(URL, headers=world.headers(who)).status_code == status
    assert world.client.put(URL, json={"read_only": True}, headers=world.headers(who)).status_code == status


def test_update_and_read_back(world) -> None:
    body = {"read_only": True, "token_expiration": 45, "project_creation_restriction": "adminonly", "banner_message": "hello"}
    assert world.client.put(URL, json=body, headers=world.headers("admin")).status_code == 200
    items = world.client.get(URL, headers=world.headers("admin")).get_json()
    assert {key: items[key]["value"] for key in body} == body
    values = stored(world)
    assert values["read_only"] is True  # the registry reads it as a JSON boolean
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log", "resource_type = 'configuration' AND operation_description LIKE '%%read_only%%'") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"read_only": "true"},
        {"read_only": 1},
        {"token_expiration": "30"},
        {"token_expiration": True},
        {"token_expiration": 0},
        {"storage_per_project": -2},
        {"auth_mode": "oidc_auth"},
        {"project_creation_restriction": "nobody"},
        {"ldap_scope": 3},
        {"ldap_url": "http://example.com"},
        {"ldap_uid": "uid)(|(x=*"},
        {"ldap_filter": "(objectClass=*"},
        {"robot_name_prefix": "robot prefix"},
        {"no_such_item": 1},
        {"skip_audit_log_database": True},
        {"disabled_audit_log_event_types": "create user"},
        {"disabled_audit_log_event_types": "DROP TABLE;"},
        {"banner_message": "x" * 5000},
    ],
)
def test_invalid_items_are_400_and_nothing_is_written(world, body: dict) -> None:
    before = stored(world)
    # A valid item next to the bad one must not be written either.
    response = world.client.put(URL, json={"banner_message": "partial", **body}, headers=world.headers("admin"))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    assert stored(world) == before


def test_body_must_be_an_object(world) -> None:
    assert world.client.put(URL, json=["read_only"], headers=world.headers("admin")).status_code == 400
    assert world.client.put(URL, data="{", headers={**world.headers("admin"), "Content-Type": "application/json"}).status_code == 400


def test_secret_is_write_only_and_encrypted(world) -> None:
    secret = "Very-Secret-" + unique("s")
    assert world.client.put(URL, json={"ldap_search_password": secret}, headers=world.headers("admin")).status_code == 200
    response = world.client.get(URL, headers=world.headers("admin"))
    assert secret not in response.get_data(as_text=True)
    raw = stored(world)["ldap_search_password"]
    assert raw.startswith("enc:v1:") and secret not in raw
    with world.cursor() as cur:
        assert world.app.extensions["berth.configs"].load(cur)["ldap_search_password"] == secret
        cur.execute("SELECT operation_description FROM audit_log WHERE resource_type = 'configuration' ORDER BY id DESC LIMIT 1")
        assert secret not in cur.fetchone()[0]


def test_skip_audit_database_with_endpoint(world) -> None:
    body = {"audit_log_forward_endpoint": "logs.example.com:514", "skip_audit_log_database": True}
    assert world.client.put(URL, json=body, headers=world.headers("admin")).status_code == 200


def test_auth_mode_changes_only_while_admin_is_alone(settings, empty_database_url) -> None:
    migrate(empty_database_url, log=lambda _m: None)
    app = create_app(dataclasses.replace(settings, database_url=empty_database_url))
    client = app.test_client()
    admin = basic("admin", settings.admin_initial_password)
    try:
        assert client.get(URL, headers=admin).get_json()["auth_mode"]["editable"] is True
        assert client.put(URL, json={"auth_mode": "ldap_auth"}, headers=admin).status_code == 200
        # Local users cannot be created in LDAP mode.
        assert client.post("/api/v2.0/users", json={"username": "late", "password": "Secret123"}, headers=admin).status_code == 400
        assert client.put(URL, json={"auth_mode": "db_auth"}, headers=admin).status_code == 200
        assert client.post("/api/v2.0/users", json={"username": "second", "password": "Secret123"}, headers=admin).status_code == 201
        assert client.get(URL, headers=admin).get_json()["auth_mode"]["editable"] is False
        refused = client.put(URL, json={"auth_mode": "ldap_auth"}, headers=admin)
        assert refused.status_code == 400 and "only user" in refused.get_json()["errors"][0]["message"]
        # Setting the current mode again is not a change.
        assert client.put(URL, json={"auth_mode": "db_auth"}, headers=admin).status_code == 200
    finally:
        app.extensions["berth.db"].close()
    check = Database(empty_database_url)
    try:
        with check.transaction() as cur:
            assert config_db.load_all(cur)["auth_mode"] == "db_auth"
    finally:
        check.close()
