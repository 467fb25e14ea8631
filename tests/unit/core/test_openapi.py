"""The API description lists exactly the /api/v2.0 routes core registers, and is served.

Runs without a database: building the app opens no connection, and the description endpoints
need none.
"""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from berth_core.api import openapi
from berth_core.app import create_app
from berth_core.services import users as users_service
from support.content import core_settings

METHODS = {"get", "put", "post", "delete", "patch", "head"}
_FLASK_VARIABLE = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
_SWAGGER_VARIABLE = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # An unreachable database: any query during these tests would fail loudly. The only start-up
    # work that needs the database (creating the initial admin) is skipped.
    settings = core_settings(tmp_path_factory.mktemp("keys"), "postgresql://nobody@127.0.0.1:9/none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users_service, "bootstrap", lambda *args, **kwargs: None)
        return create_app(settings)


def _shape(path: str) -> str:
    """``/projects/<project_name>/x`` and ``/projects/{project_name}/x`` -> ``/projects/{}/x``."""
    return _SWAGGER_VARIABLE.sub("{}", _FLASK_VARIABLE.sub("{}", path))


def registered_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v2.0/"):
            # Flask adds HEAD to every GET and OPTIONS everywhere; explicit HEADs are checked below.
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                ops.add((_shape(rule.rule), method.lower()))
    return ops


def documented_operations(doc) -> set[tuple[str, str]]:
    return {(_shape(doc["basePath"] + path), method) for path, item in doc["paths"].items() for method in item if method in METHODS}


def test_document_is_valid_swagger() -> None:
    doc = openapi.document()
    assert doc["swagger"] == "2.0"
    assert doc["basePath"] == "/api/v2.0"
    validate(doc)


def test_every_registered_route_is_documented(app) -> None:
    doc = openapi.document()
    missing = registered_operations(app) - {op for op in documented_operations(doc) if op[1] != "head"}
    assert not missing, f"routes core serves but core.yaml does not list: {sorted(missing)}"


def test_every_documented_route_exists(app) -> None:
    doc = openapi.document()
    registered = registered_operations(app)
    extra = {op for op in documented_operations(doc) if op[1] != "head"} - registered
    assert not extra, f"core.yaml lists routes core does not serve: {sorted(extra)}"
    for path, method in documented_operations(doc):
        if method == "head":  # served through the GET rule of the same path
            assert (path, "get") in registered, f"HEAD {path} documented without a GET route"


def test_operation_ids_are_unique() -> None:
    doc = openapi.document()
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))


def test_swagger_json_is_served(app) -> None:
    response = app.test_client().get("/api/v2.0/swagger.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == openapi.document()


def test_devcenter_page_renders_every_operation_without_external_resources(app) -> None:
    response = app.test_client().get("/devcenter-api-2.0")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    doc = openapi.document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                assert f'id="{op["operationId"]}"' in page
        assert f"/api/v2.0{path}" in page
    # Self-contained: no scripts, stylesheets or fonts fetched from anywhere.
    assert "<script" not in page
    assert not re.search(r'(src|href)="https?://', page)
    assert "/api/v2.0/swagger.json" in page


def test_devcenter_escapes_document_text() -> None:
    doc = {
        "basePath": "/api/v2.0",
        "paths": {"/x": {"get": {"summary": "<script>alert(1)</script>", "operationId": "x", "responses": {}}}},
    }
    groups = openapi.operations(doc)
    assert groups[0][1][0]["summary"] == "<script>alert(1)</script>"  # escaping is the template's job
    from flask import Flask, render_template_string

    with Flask(__name__).app_context():
        html = render_template_string(openapi._page_template(), info={}, groups=groups, definitions={}, schema_name=openapi.schema_name)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
