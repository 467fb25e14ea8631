"""Projects: creation rules, metadata, deletion, summary and storage quotas.

Harbor's rules: names are lower-case DNS-like labels; ``project_creation_restriction`` decides
whether everyone or only admins may create; the creator becomes Project Admin; the storage
limit of a new project is ``storage_limit`` when an admin sets it, else ``storage_per_project``;
a project is deleted only while it holds no repositories.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.db import members as members_db
from berth_core.db import projects as projects_db
from berth_core.db import users as users_db
from berth_core.db.projects import Project, Quota
from berth_core.errors import APIError
from berth_core.services import audit, rbac
from berth_core.services.configurations import Configurations
from berth_core.services.security import SecurityContext

PROJECT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
MAX_NAME = 255

_BOOL_VALUES = ("true", "false")
# Harbor's project metadata keys and the values each accepts (None = any short string).
METADATA_KEYS: dict[str, tuple[str, ...] | None] = {
    "public": _BOOL_VALUES,
    "enable_content_trust": _BOOL_VALUES,
    "enable_content_trust_cosign": _BOOL_VALUES,
    "prevent_vul": _BOOL_VALUES,
    "severity": ("none", "low", "medium", "high", "critical"),
    "auto_scan": _BOOL_VALUES,
    "auto_sbom_generation": _BOOL_VALUES,
    "reuse_sys_cve_allowlist": _BOOL_VALUES,
    "retention_id": None,
}


@dataclasses.dataclass(frozen=True)
class ProjectRequest:
    """A validated ``ProjectReq`` body."""

    name: str | None
    metadata: dict[str, str]
    storage_limit: int | None


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not PROJECT_NAME.match(name):
        raise APIError(
            errors.BAD_REQUEST,
            "project_name must be 1-255 lower-case letters and digits, separated by single '.', '_' or '-'",
        )
    return name


def check_metadata(raw: object) -> dict[str, str]:
    """Harbor's metadata map: known keys, string values (booleans as "true"/"false")."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise APIError(errors.BAD_REQUEST, "metadata must be an object of strings")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key not in METADATA_KEYS:
            raise APIError(errors.BAD_REQUEST, f"unknown metadata {str(key)[:64]!r}")
        if isinstance(value, bool):  # tolerate JSON booleans, store Harbor's strings
            value = "true" if value else "false"
        if not isinstance(value, str) or len(value) > 255:
            raise APIError(errors.BAD_REQUEST, f"metadata {key} must be a string")
        allowed = METADATA_KEYS[key]
        if allowed is not None and value.lower() not in allowed:
            raise APIError(errors.BAD_REQUEST, f"metadata {key} must be one of {', '.join(allowed)}")
        out[key] = value.lower() if allowed is not None else value
    return out


def check_storage_limit(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1 or value > 2**63 - 1:
        raise APIError(errors.BAD_REQUEST, "storage_limit must be -1 (unlimited) or a positive number of bytes")
    return value


def parse_request(body: Mapping[str, Any], *, creating: bool) -> ProjectRequest:
    """Validate a ``ProjectReq``; raises 400 naming the bad field."""
    if body.get("registry_id") is not None:
        raise APIError(errors.BAD_REQUEST, "proxy-cache projects (registry_id) are not supported")
    allowlist = body.get("cve_allowlist")
    if allowlist is not None and not isinstance(allowlist, dict):
        raise APIError(errors.BAD_REQUEST, "cve_allowlist must be an object")
    metadata = check_metadata(body.get("metadata"))
    public = body.get("public")
    if public is not None:
        if not isinstance(public, bool):
            raise APIError(errors.BAD_REQUEST, "public must be a boolean")
        metadata.setdefault("public", "true" if public else "false")
    name = body.get("project_name")
    if creating or name is not None:
        name = check_name(name)
    return ProjectRequest(name, metadata, check_storage_limit(body.get("storage_limit")))


def create_project(db: Database, configs: Configurations, ctx: SecurityContext, req: ProjectRequest, client_ip: str) -> int:
    """Create a project; returns its id. 401/403 when not allowed, 409 when the name is taken."""
    assert req.name is not None
    if not ctx.is_authenticated:
        raise APIError(errors.UNAUTHORIZED, "authentication is required to create projects")
    with db.transaction() as cur:
        config = configs.load(cur)
        allowed = ctx.can_system("project", "create") or (ctx.is_user and config["project_creation_restriction"] == "everyone")
        if not allowed:
            raise APIError(errors.FORBIDDEN, "only system admins may create projects")
        # Only admins choose a limit; everyone else gets the system default.
        admin_limit = req.storage_limit is not None and ctx.is_sysadmin
        hard = req.storage_limit if admin_limit else config["storage_per_project"]
        owner_id = ctx.user_id if ctx.is_user else _admin_id(cur)
        project_id = projects_db.insert_project(cur, req.name, owner_id)
        if project_id is None:
            raise APIError(errors.CONFLICT, f"project {req.name} already exists")
        projects_db.set_metadata(cur, project_id, {"public": "false", **req.metadata})
        projects_db.insert_quota(cur, project_id, hard)
        if ctx.is_user:
            members_db.add_member(cur, project_id, owner_id, "u", rbac.PROJECT_ADMIN)
        _record(cur, ctx, "create", req.name, project_id, client_ip)
    return project_id


def _record(cur, ctx: SecurityContext, operation: str, name: str, project_id: int, client_ip: str, description: str = "") -> None:
    """Audit a change to project ``name`` in the caller's transaction, under the caller's name."""
    audit.record_change(cur, ctx, operation, "project", name, project_id=project_id, client_ip=client_ip, description=description)


def _admin_id(cur) -> int:
    """Projects created by robots are owned by the initial admin (robots are not users)."""
    admin = users_db.get_user_by_name(cur, "admin")
    if admin is None:
        raise APIError(errors.INTERNAL, "the initial admin user is missing")
    return admin.user_id


def update_project(db: Database, ctx: SecurityContext, project: Project, req: ProjectRequest, client_ip: str) -> None:
    """Apply a PUT: metadata (and the storage limit, for admins). The name cannot change."""
    if req.name is not None and req.name != project.name:
        raise APIError(errors.BAD_REQUEST, "a project cannot be renamed")
    with db.transaction() as cur:
        if req.storage_limit is not None:
            quota = projects_db.get_quota(cur, project.project_id)
            if quota is None or quota.hard_storage != req.storage_limit:
                if not ctx.can_system("quota", "update"):
                    raise APIError(errors.FORBIDDEN, "only system admins may change a project's storage limit")
                projects_db.set_quota_hard(cur, project.project_id, req.storage_limit)
        if req.metadata:
            projects_db.set_metadata(cur, project.project_id, req.metadata)
        _record(cur, ctx, "update", project.name, project.project_id, client_ip)


def deletable(db: Database, project: Project) -> tuple[bool, str]:
    with db.transaction() as cur:
        count = projects_db.repo_count(cur, project.project_id)
    if count:
        return False, f"the project contains {count} repositories and cannot be deleted"
    return True, ""


def delete_project(db: Database, ctx: SecurityContext, project: Project, client_ip: str) -> None:
    """Delete an empty project (412 while it holds repositories)."""
    with db.transaction() as cur:
        # The row lock makes a concurrent push (which inserts a repository referencing the
        # project) wait for us, and then fail on the missing project, rather than race.
        if not projects_db.lock_project(cur, project.project_id):
            raise APIError(errors.NOT_FOUND, f"project {project.name} not found")
        count = projects_db.repo_count(cur, project.project_id)
        if count:
            raise APIError(errors.PRECONDITION, f"the project contains {count} repositories and cannot be deleted")
        projects_db.delete_project(cur, project.project_id)
        _record(cur, ctx, "delete", project.name, project.project_id, client_ip)


def set_metadata(db: Database, ctx: SecurityContext, project: Project, values: dict[str, str], client_ip: str) -> None:
    with db.transaction() as cur:
        projects_db.set_metadata(cur, project.project_id, values)
        description = "metadata " + ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
        _record(cur, ctx, "update", project.name, project.project_id, client_ip, description)


def delete_metadata(db: Database, ctx: SecurityContext, project: Project, name: str, client_ip: str) -> None:
    with db.transaction() as cur:
        if not projects_db.delete_metadata(cur, project.project_id, [name]):
            raise APIError(errors.NOT_FOUND, f"metadata {name} not found")
        _record(cur, ctx, "update", project.name, project.project_id, client_ip, f"metadata {name} deleted")


def list_projects(db: Database, ctx: SecurityContext, params: ListParams) -> tuple[list[Project], int, dict[int, int]]:
    """A page of the projects the caller may see, the total, and repository counts."""
    with db.transaction() as cur:
        projects, total = projects_db.list_projects(cur, params, ctx.member_project_ids())
        counts = projects_db.repo_counts(cur, [p.project_id for p in projects])
    for project in projects:
        ctx.remember_project(project)
    return projects, total, counts


def project_exists(db: Database, name: str) -> bool:
    with db.transaction() as cur:
        return projects_db.get_project_by_name(cur, name) is not None


def repo_count(db: Database, project: Project) -> int:
    with db.transaction() as cur:
        return projects_db.repo_count(cur, project.project_id)


def summary(db: Database, ctx: SecurityContext, project: Project) -> dict[str, Any]:
    """Harbor's ProjectSummary; member counts and quota only for callers who may see them."""
    with db.transaction() as cur:
        out: dict[str, Any] = {"repo_count": projects_db.repo_count(cur, project.project_id)}
        if ctx.can(project.project_id, "member", "list"):
            counts = members_db.role_counts(cur, project.project_id)
            out.update(
                project_admin_count=counts.get(rbac.PROJECT_ADMIN, 0),
                maintainer_count=counts.get(rbac.MAINTAINER, 0),
                developer_count=counts.get(rbac.DEVELOPER, 0),
                guest_count=counts.get(rbac.GUEST, 0),
                limited_guest_count=counts.get(rbac.LIMITED_GUEST, 0),
            )
        if ctx.can(project.project_id, "quota", "read"):
            quota = projects_db.get_quota(cur, project.project_id)
            if quota is not None:
                out["quota"] = {"hard": {"storage": quota.hard_storage}, "used": {"storage": quota.used_storage}}
    return out


# --- quotas ------------------------------------------------------------------------------------


def get_quota(db: Database, quota_id: int) -> Quota:
    with db.transaction() as cur:
        return _existing_quota(cur, quota_id)


def _existing_quota(cur, quota_id: int) -> Quota:
    quota = projects_db.get_quota(cur, quota_id)
    if quota is None:
        raise APIError(errors.NOT_FOUND, f"quota {quota_id} not found")
    return quota


def list_quotas(db: Database, params: ListParams, reference_id: int | None) -> tuple[list[Quota], int]:
    with db.transaction() as cur:
        return projects_db.list_quotas(cur, params, reference_id)


def update_quota(db: Database, ctx: SecurityContext, quota_id: int, hard_storage: int, client_ip: str) -> None:
    with db.transaction() as cur:
        quota = _existing_quota(cur, quota_id)
        projects_db.set_quota_hard(cur, quota_id, hard_storage)
        audit.record_change(
            cur, ctx, "update", "quota", quota.project_name,
            project_id=quota.project_id, client_ip=client_ip, description=f"storage limit set to {hard_storage}",
        )  # fmt: skip
