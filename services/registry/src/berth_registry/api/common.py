"""What every /v2/ view needs: the services, the bearer-token checks and the caller's identity.

Authorization per the Docker registry token spec: no or bad token answers 401 with a Bearer
challenge naming the scope to ask core's token service for; a valid token without the action
answers 403 DENIED.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import Response, current_app, g, request

from berth_registry import names
from berth_registry.names import RepositoryName
from berth_registry.services.auth import CATALOG_SCOPE, InvalidToken, Principal, TokenVerifier, repository_scope
from berth_registry.services.events import Actor
from berth_registry.services.exceptions import Denied, Unauthorized

log = structlog.get_logger(__name__)

OCTET_STREAM = "application/octet-stream"


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """A response without a body (and so without a Content-Type)."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    response.content_length = 0
    return response


def service(name: str) -> Any:
    """The service object the app factory registered as ``berth.<name>``."""
    return current_app.extensions[f"berth.{name}"]


def repository(name: str) -> RepositoryName:
    """Validate the ``<name>`` of the URL (NAME_INVALID otherwise)."""
    return names.repository(name)


def principal(scopes: list[str]) -> Principal:
    """The verified bearer of this request; raises Unauthorized with a challenge for ``scopes``."""
    cached = g.get("berth_principal")
    if cached is not None:
        return cached
    verifier: TokenVerifier = service("tokens")
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized("authentication required", headers=verifier.challenge(scopes))
    try:
        verified = verifier.verify(token)
    except InvalidToken as exc:
        log.info("token_rejected", reason=str(exc))
        raise Unauthorized("invalid or expired token", headers=verifier.challenge(scopes, error="invalid_token")) from None
    g.berth_principal = verified
    return verified


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), or None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def require(repo: RepositoryName, action: str, challenge: tuple[str, ...] | None = None) -> Principal:
    """The principal, if it may do ``action`` on ``repo``; else Unauthorized or Denied.

    ``challenge`` lists the actions a client should ask for (pushes ask for pull and push).
    """
    scopes = [repository_scope(repo.full, challenge or (action,))]
    bearer = principal(scopes)
    if not bearer.allows("repository", repo.full, action):
        _challenge_anonymous(bearer, scopes)
        raise Denied(
            f"requested access to {repo.full} is denied: {action} is not granted",
            detail=[{"Type": "repository", "Name": repo.full, "Action": action}],
        )
    return bearer


def _challenge_anonymous(bearer: Principal, scopes: list[str]) -> None:
    """An anonymous token lacking the action gets 401 and a challenge, as Harbor answers, so the
    client knows logging in may help; a signed-in user lacking it gets 403 DENIED."""
    if not bearer.subject:
        verifier: TokenVerifier = service("tokens")
        raise Unauthorized("authentication required", headers=verifier.challenge(scopes, error="insufficient_scope"))


def require_catalog() -> Principal:
    bearer = principal([CATALOG_SCOPE])
    if not bearer.allows("registry", "catalog", "*"):
        _challenge_anonymous(bearer, [CATALOG_SCOPE])
        raise Denied("the catalog needs registry:catalog:*", detail=[{"Type": "registry", "Name": "catalog", "Action": "*"}])
    return bearer


def client_ip() -> str:
    """The client's address as the proxy saw it: X-Real-IP, else the first X-Forwarded-For hop."""
    return client_ip_of(request.headers.get("X-Real-IP"), request.headers.get("X-Forwarded-For"), request.remote_addr)


def client_ip_of(real_ip: str | None, forwarded_for: str | None, remote_addr: str | None) -> str:
    """:func:`client_ip` from the raw header values (also used outside Flask's request context)."""
    real = (real_ip or "").strip()
    if real:
        return real
    forwarded = (forwarded_for or "").split(",", 1)[0].strip()
    return forwarded or remote_addr or ""


def actor(bearer: Principal) -> Actor:
    return actor_of(bearer, client_ip())


def actor_of(bearer: Principal, ip: str) -> Actor:
    # Anonymous tokens have an empty subject; Harbor's audit log and events call them "anonymous".
    return Actor(bearer.subject or "anonymous", ip)
