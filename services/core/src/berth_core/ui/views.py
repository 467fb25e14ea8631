"""Routes of the UI: the HTML shell for every page URL, the versioned assets, and ``/``.

Page URLs follow Harbor's portal (``/harbor/projects``, ``/harbor/projects/1/repositories``,
``/harbor/users``, ``/account/sign-in`` ...): the server answers all of them with the same shell
and the browser-side router draws the page. The shell carries a Content-Security-Policy without
``unsafe-inline``: the app has no inline script, style or event handler, so an injected string
can never run.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file

from berth_core.services.security import current_security
from berth_core.ui.assets import asset_version, content_type, resolve_asset

bp = Blueprint("ui", __name__, template_folder="templates")

_VERSION_KEY = "berth.ui_version"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)

SIGN_IN_PATH = "/account/sign-in"
HOME_PATH = "/harbor/projects"
# Versioned assets never change under the same URL, so browsers may keep them for a year.
_ASSET_CACHE = "public, max-age=31536000, immutable"
# The UI marks its API calls with this header (the convention of browser scripts).
UI_CALL_HEADER = "X-Requested-With"
UI_CALL_VALUE = "XMLHttpRequest"


@bp.record_once
def _remember_version(state) -> None:
    # Hash the assets once per process, at app creation, not on a visitor's first request.
    state.app.extensions[_VERSION_KEY] = asset_version()


def _version() -> str:
    return current_app.extensions[_VERSION_KEY]


@bp.get("/")
def root() -> Response:
    """Send visitors to their projects, or to the sign-in page when there is no session."""
    return redirect(HOME_PATH if current_security().is_authenticated else SIGN_IN_PATH, code=302)


@bp.get("/harbor/", defaults={"page": ""})
@bp.get("/harbor/<path:page>")
@bp.get("/account/<path:page>")
def shell(page: str) -> Response:
    """The single-page app's HTML for any page URL; the browser router picks the page."""
    html = render_template("ui/shell.html", static_base=f"/ui/static/{_version()}")
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # The shell names the current asset version, so it must never be served from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ui/static/<version>/<path:filename>")
def asset(version: str, filename: str) -> Response:
    """One asset of the current version; any other version, path or type is a 404."""
    path = resolve_asset(filename) if version == _version() else None
    if path is None:
        abort(404)
    response = send_file(path, conditional=True, etag=True)
    response.headers["Content-Type"] = content_type(path)
    response.headers["Cache-Control"] = _ASSET_CACHE
    return response


@bp.after_app_request
def _no_browser_challenge(response: Response) -> Response:
    """Drop the Basic challenge from 401 answers to the UI's own calls.

    A ``WWW-Authenticate: Basic`` header makes the browser open its native password dialog and
    hold the page's request until it is answered. The UI handles a 401 itself (its sign-in page,
    and back there when a session times out), so its calls, marked with X-Requested-With, get
    the 401 without the challenge; every other client keeps it.
    """
    if response.status_code == 401 and request.headers.get(UI_CALL_HEADER) == UI_CALL_VALUE:
        response.headers.pop("WWW-Authenticate", None)
    return response
