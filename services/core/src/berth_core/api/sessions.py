"""UI sessions, as Harbor's portal uses them: ``POST /c/login``, ``GET /c/log_out`` and
``POST /c/userExists``.

The session cookie is HttpOnly and SameSite=Lax (Secure when ``external_url`` is https); the
CSRF token travels in the readable ``__csrf`` cookie and the ``X-Harbor-CSRF-Token`` header.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from berth_common.web import client_address
from berth_core.api.common import ext
from berth_core.services import users
from berth_core.services.auth import unauthorized
from berth_core.services.security import current_security
from berth_core.services.sessions import COOKIE_NAME, CSRF_COOKIE, CSRF_HEADER

bp = Blueprint("sessions", __name__, url_prefix="/c")


def _secure() -> bool:
    return ext("settings").external_url.lower().startswith("https://")


def _form_value(name: str) -> str:
    value = request.form.get(name)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


@bp.post("/login")
def login():
    principal = ext("auth").login(_form_value("principal"), _form_value("password"), client_address() or "", audit_success=True)
    if principal.user is None:
        raise unauthorized("robot accounts cannot sign in to the UI")
    cookie, csrf = ext("sessions").start(principal.user.user_id)
    response = Response(status=200)
    response.set_cookie(COOKIE_NAME, cookie, httponly=True, samesite="Lax", secure=_secure(), path="/")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Lax", secure=_secure(), path="/")
    response.headers[CSRF_HEADER] = csrf
    return response


@bp.get("/log_out")
def log_out():
    ctx = current_security()
    if ctx.session_key is not None:
        ext("sessions").end(ctx.session_key)
    response = Response(status=200)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Lax", secure=_secure())
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="Lax", secure=_secure())
    return response


@bp.post("/userExists")
def user_exists():
    """Sign-up form helper; only answers when sign-up is open or the caller is an admin."""
    exists = users.name_taken(ext("db"), ext("configs"), current_security(), _form_value("target"), _form_value("value")[:255])
    return jsonify(exists)
