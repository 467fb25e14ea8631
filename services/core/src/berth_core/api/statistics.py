"""``GET /api/v2.0/statistics``: project and repository counts, as Harbor's ``Statistic``."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, jsonify

from berth_core.api.common import ext
from berth_core.services import statistics
from berth_core.services.security import current_security

bp = Blueprint("statistics", __name__, url_prefix="/api/v2.0")


@bp.get("/statistics")
def get_statistic():
    result = statistics.statistics(ext("db"), current_security())
    return jsonify(dataclasses.asdict(result))
