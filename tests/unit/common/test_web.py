"""Per-request context: request ids echoed, and which requests write the service's access line."""

from __future__ import annotations

import json

import pytest
from flask import Flask, abort

from berth_common import logging as berth_logging
from berth_common.web import init_request_context, request_id_from


def make_app(**options: bool) -> Flask:
    app = Flask(__name__)
    init_request_context(app, "svc", **options)

    @app.route("/thing", methods=["GET", "HEAD", "PUT"])
    def thing() -> str:
        return "ok"

    @app.route("/denied")
    def denied() -> tuple[str, int]:
        return "no", 403

    @app.route("/challenge", methods=["GET", "HEAD", "PUT"])
    def challenge() -> tuple[str, int]:
        return "log in", 401

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    return app


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


@pytest.fixture
def client_and_lines(capsys):
    def run(app: Flask, method: str, path: str) -> list[dict]:
        # Configured in the test's own phase, so the stdout handler writes to the captured stream.
        berth_logging.configure("svc", "INFO")
        app.test_client().open(path, method=method)
        return access_lines(capsys)

    return run


def test_every_request_is_logged_by_default(client_and_lines):
    app = make_app()
    [line] = client_and_lines(app, "GET", "/thing")
    assert (line["method"], line["path"], line["status"], line["service"]) == ("GET", "/thing", 200, "svc")
    assert line["request_id"]


def test_without_reads_only_writes_and_errors_are_logged(client_and_lines):
    app = make_app(log_reads=False)
    assert client_and_lines(app, "GET", "/thing") == []
    assert client_and_lines(app, "HEAD", "/thing") == []
    [write] = client_and_lines(app, "PUT", "/thing")
    assert (write["method"], write["status"]) == ("PUT", 200)
    [error] = client_and_lines(app, "GET", "/denied")
    assert (error["method"], error["status"]) == ("GET", 403)
    # "not here" and "log in first" are routine answers to reads; writes are logged whatever the answer
    assert client_and_lines(app, "GET", "/missing") == [] and client_and_lines(app, "HEAD", "/challenge") == []
    [refused] = client_and_lines(app, "PUT", "/challenge")
    assert (refused["method"], refused["status"]) == ("PUT", 401)


def test_request_ids_are_echoed_or_made_up():
    app = make_app(log_reads=False)
    client = app.test_client()
    assert client.get("/thing", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    made_up = client.get("/thing", headers={"X-Request-Id": "no spaces allowed"}).headers["X-Request-Id"]
    assert made_up != "no spaces allowed" and len(made_up) == 32
    assert request_id_from(None) != request_id_from(None)
    assert request_id_from("x" * 128) == "x" * 128
    assert request_id_from("x" * 129) != "x" * 129
