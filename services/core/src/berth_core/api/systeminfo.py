"""``GET /api/v2.0/systeminfo`` (anyone) and ``/systeminfo/volumes`` (system admins), as Harbor."""

from __future__ import annotations

from flask import Blueprint, jsonify

from berth_core.api.common import ext, harbor_time
from berth_core.services import statistics
from berth_core.services.security import current_security

bp = Blueprint("systeminfo", __name__, url_prefix="/api/v2.0")


@bp.get("/systeminfo")
def get_system_info():
    with ext("db").transaction() as cur:
        config = ext("configs").load(cur)
    info = statistics.system_info(ext("settings"), config, current_security())
    if "current_time" in info:
        info["current_time"] = harbor_time(info["current_time"])
    return jsonify(info)


@bp.get("/systeminfo/volumes")
def get_volumes():
    found = statistics.volumes(ext("settings"), current_security())
    return jsonify({"storage": [{"total": v.total, "free": v.free} for v in found]})
