"""``/api/v2.0/projects`` (list, search, HEAD, create, get, update, delete, ``_deletable``,
``summary``, ``metadatas``) and ``/api/v2.0/quotas``, as Harbor serves them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import created, ext, get_int, harbor_time, json_body, ok, path_id
from berth_core.api.query import (
    ANY,
    EXACT,
    FUZZY,
    RANGE,
    Condition,
    Field,
    paging_headers,
    parse_bool_arg,
    parse_list_params,
)
from berth_core.db.projects import Project, Quota
from berth_core.errors import APIError
from berth_core.services import projects, rbac
from berth_core.services.security import (
    SecurityContext,
    current_security,
    deny,
    ensure_authenticated,
    ensure_project,
    load_project,
    require_project,
)

bp = Blueprint("projects", __name__, url_prefix="/api/v2.0")

QUERY_FIELDS = {
    "name": Field("str", frozenset({EXACT, FUZZY, ANY})),
    "project_id": Field("int", frozenset({EXACT, ANY, RANGE})),
    "owner": Field("str", frozenset({EXACT, FUZZY})),
    "public": Field("bool", frozenset({EXACT})),
    "creation_time": Field("time", frozenset({RANGE})),
    "update_time": Field("time", frozenset({RANGE})),
}
SORTABLE = ("name", "project_id", "creation_time", "update_time")
PROJECT_REQ_FIELDS = ("project_name", "public", "metadata", "cve_allowlist", "storage_limit", "registry_id")

QUOTA_FIELDS = {
    "id": Field("int", frozenset({EXACT, ANY})),
    "reference_id": Field("str", frozenset({EXACT, ANY})),
}
QUOTA_SORTABLE = ("id", "hard.storage", "used.storage", "creation_time", "update_time")


def project_json(project: Project, ctx: SecurityContext, repo_count: int) -> dict[str, Any]:
    roles = ctx.project_roles(project.project_id)
    return {
        "project_id": project.project_id,
        "owner_id": project.owner_id,
        "name": project.name,
        "creation_time": harbor_time(project.creation_time),
        "update_time": harbor_time(project.update_time),
        "deleted": False,
        "owner_name": project.owner_name,
        "togglable": ctx.can(project.project_id, "metadata", "update"),
        "current_user_role_id": rbac.best_role(roles) or 0,
        "current_user_role_ids": roles,
        "repo_count": repo_count,
        "metadata": dict(project.metadata),
        "cve_allowlist": {"project_id": project.project_id, "items": []},
    }


def _client() -> str:
    return client_address() or ""


# --- collection ---------------------------------------------------------------------------------


@bp.get("/projects")
def list_projects():
    # Flask routes HEAD to the GET view; Harbor's HEAD /projects is a different operation.
    if request.method == "HEAD":
        return head_project()
    params = parse_list_params(QUERY_FIELDS, SORTABLE)
    # Harbor's dedicated parameters narrow the q conditions (name is a fuzzy match).
    name = request.args.get("name")
    if name:
        params = params.without("name").with_condition(Condition("name", FUZZY, (name[:255],)))
    public = parse_bool_arg(request.args, "public")
    if public is not None:
        params = params.without("public").with_condition(Condition("public", EXACT, (public,)))
    owner = request.args.get("owner")
    if owner:
        params = params.without("owner").with_condition(Condition("owner", EXACT, (owner[:255],)))
    parse_bool_arg(request.args, "with_detail", True)  # validated; details are always included
    ctx = current_security()
    items, total, counts = projects.list_projects(ext("db"), ctx, params)
    return jsonify([project_json(p, ctx, counts[p.project_id]) for p in items]), 200, paging_headers(total, params)


def head_project():
    """``HEAD /projects?project_name=``: 200 if the name is taken, else 404."""
    ensure_authenticated()
    name = request.args.get("project_name")
    if not name:
        raise APIError(errors.BAD_REQUEST, "project_name is required")
    if len(name) > 255 or not projects.project_exists(ext("db"), name):
        raise APIError(errors.NOT_FOUND, f"project {name[:255]} not found")
    return ok()


@bp.post("/projects")
def create_project():
    req = projects.parse_request(json_body(PROJECT_REQ_FIELDS), creating=True)
    project_id = projects.create_project(ext("db"), ext("configs"), current_security(), req, _client())
    by_name = request.headers.get("X-Resource-Name-In-Location", "").lower() == "true"
    return created(f"/api/v2.0/projects/{req.name if by_name else project_id}")


# --- one project --------------------------------------------------------------------------------


@bp.get("/projects/<project_name_or_id>")
@require_project("project", "read")
def get_project(project: Project):
    return jsonify(project_json(project, current_security(), projects.repo_count(ext("db"), project)))


@bp.put("/projects/<project_name_or_id>")
@require_project("project", "update")
def update_project(project: Project):
    req = projects.parse_request(json_body(PROJECT_REQ_FIELDS), creating=False)
    projects.update_project(ext("db"), current_security(), project, req, _client())
    return ok()


@bp.delete("/projects/<project_name_or_id>")
@require_project("project", "delete")
def delete_project(project: Project):
    projects.delete_project(ext("db"), current_security(), project, _client())
    return ok()


@bp.get("/projects/<project_name_or_id>/_deletable")
@require_project("project", "delete")
def project_deletable(project: Project):
    deletable, message = projects.deletable(ext("db"), project)
    return jsonify({"deletable": deletable, "message": message})


@bp.get("/projects/<project_name_or_id>/summary")
@require_project("project", "read")
def project_summary(project: Project):
    return jsonify(projects.summary(ext("db"), current_security(), project))


# --- metadata -----------------------------------------------------------------------------------


def _metadata_name(meta_name: str) -> str:
    if meta_name not in projects.METADATA_KEYS:
        raise APIError(errors.BAD_REQUEST, f"unknown metadata {meta_name[:64]!r}")
    return meta_name


@bp.get("/projects/<project_name_or_id>/metadatas/")
@require_project("metadata", "read")
def list_metadata(project: Project):
    return jsonify(dict(project.metadata))


@bp.post("/projects/<project_name_or_id>/metadatas/")
@require_project("metadata", "create")
def add_metadata(project: Project):
    values = projects.check_metadata(json_body(projects.METADATA_KEYS))
    if not values:
        raise APIError(errors.BAD_REQUEST, "no metadata given")
    existing = sorted(set(values) & set(project.metadata))
    if existing:
        raise APIError(errors.CONFLICT, f"metadata already set: {', '.join(existing)}")
    projects.set_metadata(ext("db"), current_security(), project, values, _client())
    return ok()


@bp.get("/projects/<project_name_or_id>/metadatas/<meta_name>")
@require_project("metadata", "read")
def get_metadata(project: Project, meta_name: str):
    name = _metadata_name(meta_name)
    if name not in project.metadata:
        raise APIError(errors.NOT_FOUND, f"metadata {name} not found")
    return jsonify({name: project.metadata[name]})


@bp.put("/projects/<project_name_or_id>/metadatas/<meta_name>")
@require_project("metadata", "update")
def update_metadata(project: Project, meta_name: str):
    name = _metadata_name(meta_name)
    values = projects.check_metadata(json_body((name,)))
    if name not in values:
        raise APIError(errors.BAD_REQUEST, f"the body must set {name}")
    projects.set_metadata(ext("db"), current_security(), project, values, _client())
    return ok()


@bp.delete("/projects/<project_name_or_id>/metadatas/<meta_name>")
@require_project("metadata", "delete")
def delete_metadata(project: Project, meta_name: str):
    projects.delete_metadata(ext("db"), current_security(), project, _metadata_name(meta_name), _client())
    return ok()


# --- quotas -------------------------------------------------------------------------------------


def quota_json(quota: Quota) -> dict[str, Any]:
    return {
        "id": quota.id,
        "ref": {"id": quota.project_id, "name": quota.project_name, "owner_name": quota.owner_name},
        "hard": {"storage": quota.hard_storage},
        "used": {"storage": quota.used_storage},
        "creation_time": harbor_time(quota.creation_time),
        "update_time": harbor_time(quota.update_time),
    }


@bp.get("/quotas")
def list_quotas():
    ctx = current_security()
    reference = request.args.get("reference")
    if reference not in (None, "", "project"):
        raise APIError(errors.BAD_REQUEST, "reference must be project")
    raw_ref = request.args.get("reference_id")
    reference_id = path_id(raw_ref, "reference_id") if raw_ref else None
    if not ctx.can_system("quota", "list"):
        # Harbor lets project members read their own project's quota, nothing else.
        if reference_id is None:
            raise deny(ctx)
        ensure_project(reference_id, "quota", "read")
    params = parse_list_params(QUOTA_FIELDS, QUOTA_SORTABLE)
    items, total = projects.list_quotas(ext("db"), params, reference_id)
    return jsonify([quota_json(q) for q in items]), 200, paging_headers(total, params)


@bp.get("/quotas/<quota_id>")
def get_quota(quota_id: str):
    qid = path_id(quota_id, "id")
    ctx = current_security()
    if not ctx.can_system("quota", "read"):
        ensure_project(load_project(qid, by_name=False), "quota", "read")
    return jsonify(quota_json(projects.get_quota(ext("db"), qid)))


@bp.put("/quotas/<quota_id>")
def update_quota(quota_id: str):
    qid = path_id(quota_id, "id")
    ctx = current_security()
    if not ctx.can_system("quota", "update"):
        raise deny(ctx)
    body = json_body(("hard",))
    hard = body.get("hard")
    if not isinstance(hard, dict) or set(hard) != {"storage"}:
        raise APIError(errors.BAD_REQUEST, 'hard must be {"storage": <bytes or -1>}')
    storage = get_int(hard, "storage", minimum=-1, maximum=2**63 - 1)
    if storage is None or storage == 0:
        raise APIError(errors.BAD_REQUEST, "hard.storage must be -1 (unlimited) or a positive number of bytes")
    projects.update_quota(ext("db"), ctx, qid, storage, _client())
    return ok()
