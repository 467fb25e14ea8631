"""``/api/v2.0/configurations``: Harbor's system settings (system admins only)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from berth_common.web import client_address
from berth_core.api.common import ext, json_body, ok
from berth_core.services.configurations import ITEMS
from berth_core.services.security import current_security, ensure_system

bp = Blueprint("configurations", __name__, url_prefix="/api/v2.0")


@bp.get("/configurations")
def get_configurations():
    ensure_system("configuration", "read")
    return jsonify(ext("configs").for_api())


@bp.put("/configurations")
def update_configurations():
    ensure_system("configuration", "update")
    body = json_body(ITEMS)  # unknown items: 400 naming them
    ext("configs").apply(body, current_security().username or "", client_address() or "")
    return ok()
