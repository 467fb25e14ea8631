"""The registry token service: JWT format and signature, scope cutting per role, public and
unknown projects, catalog, robots, ``docker login``, the OAuth2 password grant, bad input."""

from __future__ import annotations

import base64
import hashlib
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from berth_core.db import configurations as config_db
from support.content import basic, build_world, count_rows

ROLE_REPOSITORY_ACTIONS = {
    "admin": ["pull", "push", "delete", "*"],
    "project_admin": ["pull", "push", "delete", "*"],
    "maintainer": ["pull", "push", "delete", "*"],
    "developer": ["pull", "push"],
    "guest": ["pull"],
    "limited_guest": ["pull"],
    "non_member": [],
    "anonymous": [],
}


@pytest.fixture
def world(settings, db):
    return build_world(settings, db)


def decode(settings, token: str) -> dict:
    """Verify as the registry does: RS256 with the public key of the configured certificate."""
    with open(settings.token_cert_path, "rb") as handle:
        public_key = x509.load_pem_x509_certificate(handle.read()).public_key()
    return jwt.decode(token, public_key, algorithms=["RS256"], audience=settings.token_service, issuer=settings.token_issuer)


def token_for(world, who: str, *scopes: str, service: str | None = "berth-registry"):
    query = [("scope", s) for s in scopes]
    if service is not None:
        query.append(("service", service))
    return world.client.get("/service/token", query_string=query, headers=world.headers(who))


def test_docker_login_token_format_and_signature(world, settings) -> None:
    response = token_for(world, "developer")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 30 * 60
    assert body["issued_at"].endswith("Z")
    assert response.headers["Cache-Control"] == "no-store"
    claims = decode(settings, body["token"])
    assert claims["sub"] == world.people["developer"].username
    assert claims["access"] == []
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert abs(claims["iat"] - time.time()) < 60 and claims["nbf"] <= time.time() + 1
    assert claims["jti"]
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256"
    # libtrust key id, computed independently from the certificate's public key.
    with open(settings.token_cert_path, "rb") as handle:
        der = (
            x509.load_pem_x509_certificate(handle.read())
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    assert header["kid"] == ":".join(b32[i : i + 4] for i in range(0, 48, 4))
    assert len(header["kid"].split(":")) == 12
    with world.cursor() as cur:
        assert count_rows(cur, "audit_log", "operation = 'login' AND operation_result AND username = %(u)s", {"u": claims["sub"]}) == 1


def test_bad_credentials_are_401(world) -> None:
    response = world.client.get("/service/token?service=berth-registry", headers=basic(world.people["developer"].username, "Wrong1234"))
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("who", list(ROLE_REPOSITORY_ACTIONS))
def test_private_project_actions_are_cut_to_the_role(world, settings, who: str) -> None:
    scope = f"repository:{world.private.name}/team/app:pull,push,delete,*"
    response = token_for(world, who, scope)
    assert response.status_code == 200
    access = decode(settings, response.get_json()["token"])["access"]
    assert access == [{"type": "repository", "name": f"{world.private.name}/team/app", "actions": ROLE_REPOSITORY_ACTIONS[who]}]


@pytest.mark.parametrize("who", ["non_member", "anonymous", "limited_guest"])
def test_public_project_pull_for_anyone(world, settings, who: str) -> None:
    response = token_for(world, who, f"repository:{world.public.name}/app:pull,push")
    assert decode(settings, response.get_json()["token"])["access"][0]["actions"] == ["pull"]


def test_several_scopes_unknown_projects_and_catalog(world, settings) -> None:
    scopes = (
        f"repository:{world.private.name}/a:pull repository:{world.public.name}/b:push",
        "repository:no-such-project/x:pull",
        "registry:catalog:*",
        "repository:UPPER/Bad:pull",
        "garbage",
        "repository(plugin):" + f"{world.public.name}/c:pull",
    )
    admin = decode(settings, token_for(world, "admin", *scopes).get_json()["token"])["access"]
    developer = decode(settings, token_for(world, "developer", *scopes).get_json()["token"])["access"]
    assert [a["actions"] for a in developer] == [["pull"], [], [], [], [], ["pull"]]
    assert [a["actions"] for a in admin] == [["pull"], ["push"], [], ["*"], [], ["pull"]]
    assert developer[3] == {"type": "registry", "name": "catalog", "actions": []}


def test_service_must_match(world) -> None:
    response = token_for(world, "developer", service="someone-else")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"
    assert token_for(world, "developer", service=None).status_code == 200


def test_token_expiration_follows_configuration(world, settings) -> None:
    with world.cursor() as cur:
        config_db.upsert(cur, {"token_expiration": 5})
    body = token_for(world, "guest").get_json()
    claims = decode(settings, body["token"])
    assert body["expires_in"] == 300 and claims["exp"] - claims["iat"] == 300


def test_oauth2_password_grant(world, settings) -> None:
    person = world.people["developer"]
    response = world.client.post(
        "/service/token",
        data={
            "grant_type": "password",
            "username": person.username,
            "password": person.password,
            "service": "berth-registry",
            "scope": f"repository:{world.private.name}/x:pull,push",
            "client_id": "docker",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert decode(settings, body["access_token"])["access"][0]["actions"] == ["pull", "push"]
    bad = world.client.post("/service/token", data={"grant_type": "password", "username": person.username, "password": "Nope1234"})
    assert bad.status_code == 401
    refresh = world.client.post("/service/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert refresh.status_code == 400


def _robot(world, who: str, body: dict) -> dict:
    response = world.client.post("/api/v2.0/robots", json=body, headers=world.headers(who))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_project_robot_uses_the_token_service(world, settings) -> None:
    created = _robot(
        world,
        "project_admin",
        {
            "name": "ci",
            "level": "project",
            "duration": -1,
            "permissions": [{"kind": "project", "namespace": world.private.name, "access": [{"resource": "repository", "action": "pull"}]}],
        },
    )
    assert created["name"] == f"robot${world.private.name}+ci"
    scope = f"repository:{world.private.name}/app:pull,push"
    response = world.client.get(
        "/service/token", query_string={"service": "berth-registry", "scope": scope}, headers=basic(created["name"], created["secret"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    claims = decode(settings, response.get_json()["token"])
    assert claims["sub"] == created["name"]
    assert claims["access"][0]["actions"] == ["pull"]
    # Other private projects stay closed to this robot; public ones allow pull as for anyone.
    other = world.client.get(
        "/service/token",
        query_string={"service": "berth-registry", "scope": f"repository:{world.public.name}/app:pull,push"},
        headers=basic(created["name"], created["secret"]),
    )
    assert decode(settings, other.get_json()["token"])["access"][0]["actions"] == ["pull"]
    # Disabled robots cannot log in.
    robot = world.client.get(f"/api/v2.0/robots/{created['id']}", headers=world.headers("project_admin")).get_json()
    robot["disable"] = True
    assert world.client.put(f"/api/v2.0/robots/{created['id']}", json=robot, headers=world.headers("project_admin")).status_code == 200
    denied = world.client.get("/service/token?service=berth-registry", headers=basic(created["name"], created["secret"]))
    assert denied.status_code == 401


def test_system_robot_with_catalog_and_all_projects(world, settings) -> None:
    created = _robot(
        world,
        "admin",
        {
            "name": "mirror",
            "level": "system",
            "duration": 1,
            "permissions": [
                {"kind": "system", "namespace": "/", "access": [{"resource": "catalog", "action": "read"}]},
                {"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "pull"}]},
            ],
        },
    )
    response = world.client.get(
        "/service/token",
        query_string=[
            ("service", "berth-registry"),
            ("scope", "registry:catalog:*"),
            ("scope", f"repository:{world.private.name}/x:pull,push"),
        ],
        headers=basic(created["name"], created["secret"]),
    )
    access = decode(settings, response.get_json()["token"])["access"]
    assert [a["actions"] for a in access] == [["*"], ["pull"]]
    assert time.time() + 86400 - 120 < created["expires_at"] <= time.time() + 86400 + 5


def test_expired_robot_cannot_log_in(world) -> None:
    created = _robot(
        world,
        "project_admin",
        {
            "name": "old",
            "level": "project",
            "duration": 1,
            "permissions": [{"kind": "project", "namespace": world.private.name, "access": [{"resource": "repository", "action": "pull"}]}],
        },
    )
    with world.cursor() as cur:
        cur.execute("UPDATE robots SET expires_at = %s WHERE id = %s", (int(time.time()) - 1, created["id"]))
    assert world.client.get("/service/token", headers=basic(created["name"], created["secret"])).status_code == 401
