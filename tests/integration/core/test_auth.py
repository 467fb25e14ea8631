"""Authentication of API requests: Basic credentials, malformed headers, and the failed-login
throttle (per username and client, stored in PostgreSQL so every worker sees it)."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from berth_common.db import Database
from berth_core.app import create_app
from berth_core.services.passwords import Hasher
from berth_migrations.runner import migrate
from support.content import basic, build_world, core_settings, count_rows, make_user, unique


@pytest.fixture(scope="module")
def settings(tmp_path_factory, database_url):
    return core_settings(tmp_path_factory.mktemp("keys"), database_url, login_max_failures=3, login_lockout_seconds=60)


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer abc.def.ghi",
        "Digest username=x",
    ],
)
def test_malformed_credentials_are_401_envelopes(world, header: str) -> None:
    response = world.client.get("/api/v2.0/users/current", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "WWW-Authenticate" in response.headers


def test_wrong_password_is_401_not_anonymous(world) -> None:
    """Bad credentials never silently fall back to anonymous, even on public reads."""
    person = world.people["developer"]
    response = world.client.get("/api/v2.0/projects", headers=basic(person.username, "Wrong1234"))
    assert response.status_code == 401
    assert world.client.get("/api/v2.0/projects").status_code == 200


def test_throttle_locks_out_after_failures_per_client(world) -> None:
    person = world.people["guest"]
    here = {"X-Real-IP": "10.0.0.1"}
    for _ in range(3):
        response = world.client.get("/api/v2.0/users/current", headers={**basic(person.username, "Wrong1234"), **here})
        assert response.status_code == 401
    locked = world.client.get("/api/v2.0/users/current", headers={**basic(person.username, person.password), **here})
    assert locked.status_code == 429
    assert locked.get_json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert int(locked.headers["Retry-After"]) > 0
    # Another client is not affected by the attacker's failures.
    elsewhere = world.client.get("/api/v2.0/users/current", headers={**basic(person.username, person.password), "X-Real-IP": "10.0.0.2"})
    assert elsewhere.status_code == 200
    with world.cursor() as cur:
        assert (
            count_rows(cur, "audit_log", "operation = 'login' AND NOT operation_result AND username = %(u)s", {"u": person.username}) == 3
        )


def test_success_resets_the_failure_count(world) -> None:
    person = world.people["maintainer"]
    for _ in range(2):
        assert world.client.get("/api/v2.0/users/current", headers=basic(person.username, "Wrong1234")).status_code == 401
    assert world.client.get("/api/v2.0/users/current", headers=basic(person.username, person.password)).status_code == 200
    for _ in range(2):
        assert world.client.get("/api/v2.0/users/current", headers=basic(person.username, "Wrong1234")).status_code == 401
    assert world.client.get("/api/v2.0/users/current", headers=basic(person.username, person.password)).status_code == 200


def test_unknown_users_are_throttled_too(world) -> None:
    name = unique("ghost")
    for _ in range(3):
        assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Wrong1234")).status_code == 401
    assert world.client.get("/api/v2.0/users/current", headers=basic(name, "Wrong1234")).status_code == 429


def test_lockout_holds_across_app_instances(settings, empty_database_url) -> None:
    """Two apps with their own pools (two workers) share the lockout through PostgreSQL."""
    migrate(empty_database_url, log=lambda _m: None)
    fresh = dataclasses.replace(settings, database_url=empty_database_url)
    first, second = create_app(fresh), create_app(fresh)
    pool = Database(empty_database_url)
    try:
        with pool.transaction() as cur:
            person = make_user(cur, Hasher(settings))
        for _ in range(3):
            assert first.test_client().get("/api/v2.0/users/current", headers=basic(person.username, "Wrong1234")).status_code == 401
        response = second.test_client().get("/api/v2.0/users/current", headers=basic(person.username, person.password))
        assert response.status_code == 429
    finally:
        pool.close()
        for app in (first, second):
            app.extensions["berth.db"].close()


def test_oversized_credentials_are_rejected_cheaply(world) -> None:
    response = world.client.get("/api/v2.0/users/current", headers=basic("x" * 300, "y"))
    assert response.status_code == 401
    response = world.client.get("/api/v2.0/users/current", headers=basic("someone", "y" * 5000))
    assert response.status_code == 401
