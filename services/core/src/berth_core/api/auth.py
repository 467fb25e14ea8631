"""The authentication hook: turns each request's credentials into its security context.

Harbor's order, reduced to what Berth supports: Basic credentials (user, LDAP user or
``robot$`` account) first, else the UI session cookie, else anonymous. Bad Basic credentials
are a 401 (never a silent downgrade to anonymous). Requests authenticated by the cookie must
carry the session's CSRF token in ``X-Harbor-CSRF-Token`` unless they are safe (GET, HEAD,
OPTIONS); Basic-auth requests need no CSRF token because browsers never send them on their own.
"""

from __future__ import annotations

import base64
import binascii

from flask import Flask, Response, g, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import ext
from berth_core.errors import APIError
from berth_core.services import security
from berth_core.services.auth import Principal, unauthorized
from berth_core.services.security import SecurityContext
from berth_core.services.sessions import COOKIE_NAME, CSRF_HEADER, csrf_matches

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Endpoints that read credentials themselves (the token service, the login form) or need none.
SELF_AUTHENTICATING = {
    # The UI's shell and static assets are the same for everyone; the pages' API calls
    # authenticate. ("ui.root" stays authenticated: it chooses between sign-in and projects.)
    "ui.shell",
    "ui.asset",
    "tokens.get_token",
    "tokens.post_token",
    "sessions.login",
    "health.health",
    "health.ping",
    "static",
}


def parse_basic(header: str) -> tuple[str, str]:
    """(username, password) from ``Basic <base64>``; a 401 APIError if it is malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized("only Basic authentication is supported")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise unauthorized("malformed Basic credentials")
    return username, password


def authenticate_request() -> SecurityContext:
    """Build the context of the current request; raises 401/429/403 APIErrors."""
    header = request.headers.get("Authorization")
    if header:
        username, password = parse_basic(header)
        principal = ext("auth").login(username, password, client_address() or "")
        return security.context_for(ext("db"), principal, security.ROBOT if principal.robot else security.BASIC)

    cookie = request.cookies.get(COOKIE_NAME)
    session = ext("sessions").resolve(cookie) if cookie else None
    if session is not None:
        if request.method not in SAFE_METHODS and not csrf_matches(session.csrf_token, request.headers.get(CSRF_HEADER)):
            raise APIError(errors.FORBIDDEN, "CSRF token invalid")
        g.berth_csrf_token = session.csrf_token
        principal = Principal(name=session.user.username, user=session.user)
        return security.context_for(ext("db"), principal, security.SESSION, session_key=session.key)
    return SecurityContext.anonymous(security.public_loader())


def init_app(app: Flask) -> None:
    @app.before_request
    def authenticate() -> None:
        if request.endpoint in SELF_AUTHENTICATING:
            return
        security.set_current_security(authenticate_request())

    @app.after_request
    def expose_csrf_token(response: Response) -> Response:
        # The UI reads the token from this header (as Harbor's UI does) or the __csrf cookie.
        token = g.get("berth_csrf_token")
        if token:
            response.headers[CSRF_HEADER] = token
        return response
