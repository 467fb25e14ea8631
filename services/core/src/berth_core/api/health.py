"""``GET /api/v2.0/health`` and ``GET /api/v2.0/ping``, as Harbor answers them."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from berth_core.services.health import overall

bp = Blueprint("health", __name__, url_prefix="/api/v2.0")


@bp.get("/health")
def health():
    components = current_app.extensions["berth.health"].run()
    return jsonify({"status": overall(components), "components": [c.to_dict() for c in components]})


@bp.get("/ping")
def ping():
    return "Pong", 200, {"Content-Type": "text/plain; charset=utf-8"}
