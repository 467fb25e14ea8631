"""``/api/v2.0/repositories`` and ``/api/v2.0/projects/{p}/repositories[/{r}]``, as Harbor.

``{r}`` is the repository name without the project, URL-encoded twice when it contains a
slash (``a/b`` -> ``a%252Fb``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from berth_common.web import client_address
from berth_core.api.common import ext, get_str, harbor_time, json_body, ok
from berth_core.api.query import ANY, EXACT, FUZZY, RANGE, Field, paging_headers, parse_list_params
from berth_core.db.content import Repository
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import content
from berth_core.services.security import current_security, require_project

bp = Blueprint("repositories", __name__, url_prefix="/api/v2.0")

QUERY_FIELDS = {
    "name": Field("str", frozenset({EXACT, FUZZY})),
    "id": Field("int", frozenset({EXACT, ANY})),
    "project_id": Field("int", frozenset({EXACT, ANY})),
    "pull_count": Field("int", frozenset({EXACT, RANGE})),
    "creation_time": Field("time", frozenset({RANGE})),
    "update_time": Field("time", frozenset({RANGE})),
}
SORTABLE = ("name", "id", "project_id", "pull_count", "creation_time", "update_time")
# Read-only fields of Harbor's Repository model: a PUT may echo them back; only description changes.
READ_ONLY_FIELDS = ("id", "project_id", "name", "artifact_count", "pull_count", "creation_time", "update_time")


def repository_json(repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "project_id": repo.project_id,
        "name": repo.name,
        "description": repo.description,
        "artifact_count": repo.artifact_count,
        "pull_count": repo.pull_count,
        "creation_time": harbor_time(repo.creation_time),
        "update_time": harbor_time(repo.update_time),
    }


def refuse_in_read_only_mode() -> None:
    """Harbor's ``read_only`` switch: content changes answer 403 DENIED while it is on."""
    with ext("db").transaction() as cur:
        read_only = ext("configs").load(cur)["read_only"]
    if read_only:
        raise APIError(content.DENIED, "The system is in read only mode. Any modification is prohibited.")


def _listing(project_ids):
    params = parse_list_params(QUERY_FIELDS, SORTABLE)
    if project_ids is not None and not project_ids:
        items, total = [], 0
    else:
        items, total = content.list_repositories(ext("db"), project_ids, params)
    return jsonify([repository_json(r) for r in items]), 200, paging_headers(total, params)


@bp.get("/repositories")
def list_all_repositories():
    """Repositories of every project the caller may see (all of them for system admins)."""
    visible = current_security().visible_project_ids()
    return _listing(None if visible is None else sorted(visible))


@bp.get("/projects/<project_name>/repositories")
@require_project("repository", "list")
def list_repositories(project: Project):
    return _listing([project.project_id])


@bp.get("/projects/<project_name>/repositories/<repository_name>")
@require_project("repository", "list")  # Harbor checks "list" here too, which public projects grant
def get_repository(project: Project, repository_name: str):
    return jsonify(repository_json(content.get_repository(ext("db"), project, repository_name)))


@bp.put("/projects/<project_name>/repositories/<repository_name>")
@require_project("repository", "update")
def update_repository(project: Project, repository_name: str):
    refuse_in_read_only_mode()
    body = json_body({"description"}, allow_unknown=READ_ONLY_FIELDS)
    description = get_str(body, "description", max_length=content.MAX_DESCRIPTION, default="")
    content.update_repository(ext("db"), current_security(), project, repository_name, description, client_address() or "")
    return ok()


@bp.delete("/projects/<project_name>/repositories/<repository_name>")
@require_project("repository", "delete")
def delete_repository(project: Project, repository_name: str):
    refuse_in_read_only_mode()
    external_url = ext("settings").external_url
    content.delete_repository(ext("db"), current_security(), project, repository_name, client_address() or "", external_url)
    return ok()
