"""The registry token service (Docker registry token spec, Harbor's ``src/core/service/token``).

A client asks for ``scope=repository:<project>/<repo>:pull,push`` (one or more scopes); each
requested action is cut down to what the caller may do (:class:`SecurityContext`), and the
granted ``access`` list goes into an RS256 JWT that the registry verifies offline with the
certificate at ``token_cert_path``. The header's ``kid`` is the libtrust key id the CNCF
distribution registry expects.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from berth_common.db import Database
from berth_core.db import projects as projects_db
from berth_core.db.projects import Project
from berth_core.services.configurations import Configurations
from berth_core.services.security import SecurityContext

# OCI distribution-spec repository name: path components separated by '/'.
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
MAX_SCOPES = 32
MAX_SCOPE_LENGTH = 1024

# Registry action -> RBAC action on the project's "repository" resource.
REPOSITORY_ACTIONS = {"pull": "pull", "push": "push", "delete": "delete"}


@dataclasses.dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(raw_scopes: Iterable[str]) -> list[Scope]:
    """Parse ``type:name:action,action`` scopes; several may share one parameter, space-separated.

    The name may itself contain ``:`` (``host:5000/repo``), so type is before the first colon and
    actions after the last. Malformed scopes are dropped, as the reference token server does.
    """
    scopes: list[Scope] = []
    for raw in raw_scopes:
        for item in raw[:MAX_SCOPE_LENGTH].split():
            kind, sep1, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not (sep1 and sep2 and kind and name):
                continue
            kind = kind.split("(", 1)[0]  # "repository(plugin)" -> "repository"
            wanted = tuple(dict.fromkeys(a for a in actions.split(",") if a))
            scopes.append(Scope(kind, name, wanted))
            if len(scopes) >= MAX_SCOPES:
                return scopes
    return scopes


def grant(
    ctx: SecurityContext,
    scopes: Iterable[Scope],
    find_project: Callable[[str], Project | None],
) -> list[dict[str, Any]]:
    """The ``access`` claim: each scope with the requested actions the caller may have."""
    access = []
    for scope in scopes:
        granted: list[str] = []
        if scope.type == "repository":
            granted = _repository_actions(ctx, scope, find_project)
        elif scope.type == "registry" and scope.name == "catalog" and "*" in scope.actions and ctx.can_system("catalog", "read"):
            granted = ["*"]
        access.append({"type": scope.type, "name": scope.name, "actions": granted})
    return access


def _repository_actions(ctx: SecurityContext, scope: Scope, find_project: Callable[[str], Project | None]) -> list[str]:
    if not REPOSITORY_NAME.match(scope.name) or len(scope.name) > 255 or "/" not in scope.name:
        return []
    project = find_project(scope.name.split("/", 1)[0])
    if project is None:
        return []  # Harbor: unknown project -> nothing granted, not an error
    ctx.remember_project(project)
    allowed = {a for a, rbac_action in REPOSITORY_ACTIONS.items() if ctx.can(project.project_id, "repository", rbac_action)}
    granted = []
    for action in scope.actions:
        if action == "*":
            if allowed == set(REPOSITORY_ACTIONS):
                granted.append("*")
        elif action in allowed:
            granted.append(action)
    return granted


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """libtrust's key id: base32 of the first 30 bytes of SHA-256 of the DER public key,
    in 12 colon-separated groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii")
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


class TokenIssuer:
    """Signs registry tokens with the private key at ``token_private_key_path``."""

    def __init__(self, private_key_pem: bytes, issuer: str, service: str) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise RuntimeError("the token signing key must be an RSA private key")
        self._key = key
        self.key_id = libtrust_key_id(key.public_key())
        self.issuer = issuer
        self.service = service

    @classmethod
    def from_file(cls, path: str, issuer: str, service: str) -> TokenIssuer:
        try:
            with open(path, "rb") as handle:
                pem = handle.read()
        except OSError as exc:
            raise RuntimeError(f"cannot read token private key {path}: {exc.strerror}") from None
        return cls(pem, issuer, service)

    def issue(self, subject: str, access: list[dict[str, Any]], expiration_minutes: int) -> dict[str, Any]:
        """The token response body: ``{token, access_token, expires_in, issued_at}``."""
        now = int(time.time())
        expires_in = expiration_minutes * 60
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + expires_in,
            "nbf": now,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})
        issued_at = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": expires_in, "issued_at": issued_at}


def token_for(db: Database, configs: Configurations, issuer: TokenIssuer, ctx: SecurityContext, raw_scopes: list[str]) -> dict[str, Any]:
    """The token response for the caller and its requested scopes (lifetime: ``token_expiration``)."""
    cache: dict[str, Project | None] = {}

    def find_project(name: str) -> Project | None:
        if name not in cache:
            with db.transaction() as cur:
                cache[name] = projects_db.get_project_by_name(cur, name)
        return cache[name]

    access = grant(ctx, parse_scopes(raw_scopes), find_project)
    minutes = configs.current()["token_expiration"]
    return issuer.issue(ctx.username or "", access, minutes)
