"""Token service pieces without a server: scope parsing, action cutting, key ids, signing."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from berth_core.db.projects import Project
from berth_core.services import rbac
from berth_core.services.security import SecurityContext
from berth_core.services.tokens import Scope, TokenIssuer, grant, libtrust_key_id, parse_scopes


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_parse_scopes() -> None:
    assert parse_scopes(["repository:lib/app:pull,push", "repository:host:5000/lib/x:pull registry:catalog:*"]) == [
        Scope("repository", "lib/app", ("pull", "push")),
        Scope("repository", "host:5000/lib/x", ("pull",)),
        Scope("registry", "catalog", ("*",)),
    ]
    assert parse_scopes(["repository(plugin):a/b:pull"]) == [Scope("repository", "a/b", ("pull",))]
    assert parse_scopes(["nonsense", ":x:pull", "repository::pull", ""]) == []
    assert parse_scopes(["repository:a/b:pull,pull,,push"]) == [Scope("repository", "a/b", ("pull", "push"))]
    assert len(parse_scopes([" ".join(f"repository:a/b{i}:pull" for i in range(100))])) <= 32


def _project(project_id: int, name: str, public: bool) -> Project:
    return Project(project_id, name, 1, "admin", None, None, {"public": "true" if public else "false"})


def test_grant_cuts_actions() -> None:
    projects = {"priv": _project(1, "priv", False), "pub": _project(2, "pub", True)}
    developer = SecurityContext(username="dev", user_id=5, method="basic", roles={1: frozenset({rbac.DEVELOPER})})
    scopes = parse_scopes(["repository:priv/a:pull,push,delete,* repository:pub/b:pull,push repository:none/c:pull registry:catalog:*"])
    access = grant(developer, scopes, projects.get)
    assert [a["actions"] for a in access] == [["pull", "push"], ["pull"], [], []]
    maintainer = SecurityContext(username="m", user_id=6, method="basic", roles={1: frozenset({rbac.MAINTAINER})})
    assert grant(maintainer, scopes[:1], projects.get)[0]["actions"] == ["pull", "push", "delete", "*"]
    admin = SecurityContext(username="root", user_id=1, method="basic", sysadmin=True)
    assert grant(admin, scopes[-1:], projects.get)[0]["actions"] == ["*"]
    assert grant(admin, parse_scopes(["repository:priv/UPPER:pull"]), projects.get)[0]["actions"] == []


def test_libtrust_key_id_format(key) -> None:
    kid = libtrust_key_id(key.public_key())
    groups = kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kid.replace(":", "") == base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()


def test_issue_signs_rs256_with_kid(key) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    issuer = TokenIssuer(pem, "iss", "svc")
    body = issuer.issue("bob", [{"type": "repository", "name": "a/b", "actions": ["pull"]}], 7)
    claims = jwt.decode(body["token"], key.public_key(), algorithms=["RS256"], audience="svc", issuer="iss")
    assert claims["sub"] == "bob" and claims["exp"] - claims["iat"] == 420 and body["expires_in"] == 420
    assert jwt.get_unverified_header(body["token"])["kid"] == issuer.key_id
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(body["token"], key.public_key(), algorithms=["RS256"], audience="other")
