"""``GET /api/v2.0/search?q=``: projects and repositories whose names contain ``q``, as Harbor."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_core import errors
from berth_core.api.common import ext
from berth_core.api.projects import project_json
from berth_core.db.content import Repository
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import statistics
from berth_core.services.security import current_security

bp = Blueprint("search", __name__, url_prefix="/api/v2.0")


def search_repository_json(repo: Repository, project: Project) -> dict[str, Any]:
    return {
        "project_id": repo.project_id,
        "project_name": project.name,
        "project_public": project.public,
        "repository_name": repo.name,
        "pull_count": repo.pull_count,
        "artifact_count": repo.artifact_count,
    }


@bp.get("/search")
def search():
    keyword = request.args.get("q")
    if keyword is None:
        raise APIError(errors.BAD_REQUEST, "the q parameter is required")
    sec = current_security()
    result = statistics.search(ext("db"), sec, keyword.strip())
    return jsonify(
        {
            "project": [project_json(p, sec, count) for p, count in result.projects],
            "repository": [search_repository_json(r, p) for r, p in result.repositories],
        }
    )
