"""``/api/v2.0/configurations``: Harbor's system settings (system admins only)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from berth_common.web import client_address
from berth_core.api.common import ext, json_body, ok
from berth_core.services import audit
from berth_core.services.configurations import ITEMS
from berth_core.services.security import current_security, ensure_system

bp = Blueprint("configurations", __name__, url_prefix="/api/v2.0")


@bp.get("/configurations")
def get_configurations():
    ensure_system("configuration", "read")
    with ext("db").transaction() as cur:
        return jsonify(ext("configs").for_api(cur))


@bp.put("/configurations")
def update_configurations():
    ensure_system("configuration", "update")
    body = json_body(ITEMS)  # unknown items: 400 naming them
    with ext("db").transaction() as cur:
        changed = ext("configs").update(cur, body)
        audit.record(
            cur,
            operation="update",
            resource_type="configuration",
            resource="configurations",
            username=current_security().username or "",
            client_ip=client_address() or "",
            description="changed " + ", ".join(sorted(changed)),
        )
    return ok()
