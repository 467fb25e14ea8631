"""``/service/token``: the registry token endpoint (Docker registry token spec).

``GET`` with optional Basic credentials (``docker login``, ``docker pull``...), and ``POST`` with
``grant_type=password`` (the OAuth2 form some clients use). Bad credentials are a 401 in the
error envelope; a caller without rights still gets a token, with the actions cut away.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.auth import parse_basic
from berth_core.api.common import ext
from berth_core.errors import APIError
from berth_core.services import security, tokens
from berth_core.services.auth import Principal
from berth_core.services.security import SecurityContext

bp = Blueprint("tokens", __name__, url_prefix="/service")
# Tokens are credentials: no proxy or client may keep a copy (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _check_service(service: str | None) -> None:
    issuer = ext("tokens")
    if service is not None and service != issuer.service:
        raise APIError(errors.BAD_REQUEST, f"unknown service {service[:64]!r}; this token service serves {issuer.service!r}")


def _issue(ctx: SecurityContext, raw_scopes: list[str]) -> dict:
    return tokens.token_for(ext("db"), ext("configs"), ext("tokens"), ctx, raw_scopes)


def _login(username: str, password: str, audit_success: bool) -> SecurityContext:
    principal: Principal = ext("auth").login(username, password, client_address() or "", audit_success=audit_success)
    ctx = security.context_for(ext("db"), principal, security.ROBOT if principal.robot else security.BASIC)
    security.set_current_security(ctx)
    return ctx


@bp.get("/token")
def get_token():
    _check_service(request.args.get("service"))
    scopes = request.args.getlist("scope")
    header = request.headers.get("Authorization")
    if header:
        username, password = parse_basic(header)
        # A request without scope is "docker login": worth an audit entry; pulls are not.
        ctx = _login(username, password, audit_success=not scopes)
    else:
        ctx = SecurityContext.anonymous(security.public_loader())
        security.set_current_security(ctx)
    return jsonify(_issue(ctx, scopes)), 200, NO_STORE


@bp.post("/token")
def post_token():
    """OAuth2 password grant: form fields grant_type, username, password, service, scope."""
    form = request.form
    grant_type = form.get("grant_type")
    if grant_type != "password":
        raise APIError(errors.BAD_REQUEST, "unsupported grant_type; only password is supported")
    _check_service(form.get("service"))
    scopes = form.getlist("scope")
    ctx = _login(form.get("username", ""), form.get("password", ""), audit_success=not scopes)
    body = _issue(ctx, scopes)
    return (
        jsonify(
            {
                "access_token": body["access_token"],
                "token_type": "Bearer",
                "expires_in": body["expires_in"],
                "issued_at": body["issued_at"],
                "scope": " ".join(scopes),
            }
        ),
        200,
        NO_STORE,
    )
