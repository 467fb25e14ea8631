"""The UI blueprint without a database: the shell for every page URL with its CSP, versioned
assets with the right types and cache headers, 404s for anything else, the root redirect, and
the rule that the UI's own 401s carry no Basic challenge.

The app under test is a plain Flask app with core's error handler and the UI blueprint; its
``berth.db`` is a pool that is never connected (an anonymous request never touches it).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask

from berth_common.db import Database
from berth_core import errors
from berth_core.errors import APIError
from berth_core.services import security
from berth_core.services.security import SecurityContext
from berth_core.ui import bp
from berth_core.ui.assets import STATIC_DIR, asset_version, content_type, resolve_asset
from berth_core.ui.views import CONTENT_SECURITY_POLICY


def make_app(user: str | None = None) -> Flask:
    app = Flask(__name__)
    app.extensions["berth.db"] = Database("postgresql://127.0.0.1:1/never-connected", maxconn=1)
    errors.init_app(app)

    if user is not None:

        @app.before_request
        def signed_in() -> None:
            security.set_current_security(SecurityContext(username=user, user_id=7, method=security.SESSION))

    @app.get("/api/v2.0/needs-auth")
    def needs_auth():
        raise security.deny()

    app.register_blueprint(bp)
    return app


@pytest.fixture
def client():
    return make_app().test_client()


class ShellParser(HTMLParser):
    """Collects what matters for the CSP: scripts, styles, inline handlers, asset URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.inline_code: list[str] = []
        self.forbidden: list[str] = []
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.forbidden.append(f"<{tag} {name}>")
        if tag == "style":
            self.forbidden.append("<style>")
        if tag == "script":
            self.scripts.append(values)
            self._in_script = True
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_code.append(data)


@pytest.mark.parametrize(
    "path",
    ["/harbor/", "/harbor/projects", "/harbor/projects/3/repositories/a%2Fb/artifacts-tab", "/harbor/anything/unknown", "/account/sign-in"],
)
def test_every_page_url_gets_the_shell_with_a_strict_csp(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp


def test_bare_harbor_path_redirects_to_the_shell(client):
    response = client.get("/harbor")
    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/harbor/")


def test_shell_has_no_inline_code_and_only_local_versioned_assets(client):
    parser = ShellParser()
    parser.feed(client.get("/harbor/projects").get_data(as_text=True))
    assert parser.inline_code == []
    assert parser.forbidden == []
    assert parser.scripts == [{"type": "module", "src": f"/ui/static/{asset_version()}/js/main.js"}]
    assert parser.urls, "the shell links its assets"
    for url in parser.urls:
        assert url.startswith(f"/ui/static/{asset_version()}/"), url
        assert client.get(url).status_code == 200, url


def test_every_asset_is_served_with_its_type_and_a_long_cache(client):
    version = asset_version()
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        relative = path.relative_to(STATIC_DIR).as_posix()
        response = client.get(f"/ui/static/{version}/{relative}")
        assert response.status_code == 200, relative
        assert response.headers["Content-Type"] == content_type(path), relative
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.get_data() == path.read_bytes()
    js = client.get(f"/ui/static/{version}/js/main.js")
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/ui/static/{v}/js/no-such-module.js",
        "/ui/static/0000000000000000/js/main.js",  # another version
        "/ui/static/{v}/../views.py",
        "/ui/static/{v}/..%2F..%2Fviews.py",
        "/ui/static/{v}/js",  # a directory
        "/ui/static/{v}/",
    ],
)
def test_unknown_assets_are_404_in_the_error_envelope(client, path):
    response = client.get(path.format(v=asset_version()))
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "NOT_FOUND"


def test_resolve_asset_refuses_escapes_and_unknown_types(tmp_path: Path):
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "js" / "a.js").write_text("export const a = 1;\n")
    (root / "js" / "notes.txt").write_text("not an asset type\n")
    (tmp_path / "secret.js").write_text("outside the root\n")
    assert resolve_asset("js/a.js", root) == (root / "js" / "a.js").resolve()
    assert resolve_asset("js/notes.txt", root) is None
    assert resolve_asset("../secret.js", root) is None
    assert resolve_asset(str(tmp_path / "secret.js"), root) is None
    assert resolve_asset("js", root) is None


def test_asset_version_follows_content_and_names(tmp_path: Path):
    (tmp_path / "a.js").write_text("one")
    first = asset_version(tmp_path)
    assert asset_version(tmp_path) == first
    (tmp_path / "a.js").write_text("two")
    second = asset_version(tmp_path)
    assert second != first
    (tmp_path / "a.js").rename(tmp_path / "b.js")
    assert asset_version(tmp_path) not in (first, second)


def test_root_redirects_by_session():
    anonymous = make_app().test_client().get("/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/account/sign-in"
    signed_in = make_app(user="alice").test_client().get("/")
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/harbor/projects"


def test_ui_calls_get_their_401_without_a_basic_challenge(client):
    # Scripts keep the challenge; the UI (marked by X-Requested-With) gets none, so the browser
    # never opens its own password dialog over the app.
    plain = client.get("/api/v2.0/needs-auth")
    assert plain.status_code == 401
    assert plain.headers["WWW-Authenticate"].startswith("Basic")
    ui = client.get("/api/v2.0/needs-auth", headers={"X-Requested-With": "XMLHttpRequest"})
    assert ui.status_code == 401
    assert "WWW-Authenticate" not in ui.headers
    assert ui.get_json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_other_errors_keep_their_headers():
    app = make_app()

    @app.get("/api/v2.0/teapot")
    def teapot():
        raise APIError(errors.TOO_MANY_REQUESTS, "slow down", headers={"Retry-After": "2"})

    response = app.test_client().get("/api/v2.0/teapot", headers={"X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


def test_no_page_url_outside_the_ui_prefixes_is_claimed(client):
    # The blueprint must not shadow the API or the registry with its catch-all page routes.
    for path in ("/api/v2.0/projects", "/v2/", "/c/login", "/service/token", "/harbormaster"):
        assert client.get(path).status_code == 404, path
    assert re.fullmatch(r"[0-9a-f]{16}", asset_version())
