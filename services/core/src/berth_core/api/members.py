"""``/api/v2.0/projects/{project_name_or_id}/members[/{mid}]``, as Harbor serves them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import created, ext, json_body, ok, path_id
from berth_core.api.query import paging_headers, parse_list_params
from berth_core.db.members import Member
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import members, rbac
from berth_core.services.security import current_security, require_project

bp = Blueprint("members", __name__, url_prefix="/api/v2.0")


def member_json(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "project_id": member.project_id,
        "entity_name": member.entity_name,
        "role_name": rbac.ROLE_NAMES.get(member.role_id, ""),
        "role_id": member.role_id,
        "entity_id": member.entity_id,
        "entity_type": member.entity_type,
    }


@bp.get("/projects/<project_name_or_id>/members")
@require_project("member", "list")
def list_members(project: Project):
    params = parse_list_params({}, ())
    entityname = request.args.get("entityname")
    if entityname is not None and len(entityname) > 255:
        raise APIError(errors.BAD_REQUEST, "entityname must be at most 255 characters")
    items, total = members.list_members(ext("db"), project, entityname, params)
    return jsonify([member_json(m) for m in items]), 200, paging_headers(total, params)


@bp.post("/projects/<project_name_or_id>/members")
@require_project("member", "create")
def add_member(project: Project):
    body = json_body(("role_id", "member_user", "member_group"))
    role_id = members.check_role(body.get("role_id"))
    user_spec, group_spec = body.get("member_user"), body.get("member_group")
    # Harbor's UI sends an empty member_group next to member_user; only one may carry data.
    user_given = isinstance(user_spec, dict) and any(v not in (None, "", 0) for v in user_spec.values())
    group_given = isinstance(group_spec, dict) and any(v not in (None, "", 0) for v in group_spec.values())
    if user_given == group_given:
        raise APIError(errors.BAD_REQUEST, "give exactly one of member_user and member_group")
    db, configs = ext("db"), ext("configs")
    if user_given:
        if set(user_spec) - {"user_id", "username"}:
            raise APIError(errors.BAD_REQUEST, "member_user accepts user_id and username")
        entity_id, name = members.resolve_user(db, configs, ext("auth"), user_spec)
        entity_type = "u"
    else:
        if set(group_spec) - {"id", "group_name", "group_type", "ldap_group_dn"}:
            raise APIError(errors.BAD_REQUEST, "member_group accepts id, group_name, group_type and ldap_group_dn")
        entity_id, name = members.resolve_group(db, configs, group_spec)
        entity_type = "g"
    member_id = members.add_member(db, current_security(), project, entity_id, entity_type, name, role_id, client_address() or "")
    return created(f"/api/v2.0/projects/{project.project_id}/members/{member_id}")


@bp.get("/projects/<project_name_or_id>/members/<mid>")
@require_project("member", "read")
def get_member(project: Project, mid: str):
    return jsonify(member_json(members.get_member(ext("db"), project, path_id(mid, "mid"))))


@bp.put("/projects/<project_name_or_id>/members/<mid>")
@require_project("member", "update")
def update_member(project: Project, mid: str):
    member_id = path_id(mid, "mid")
    role_id = members.check_role(json_body(("role_id",)).get("role_id"))
    members.update_member(ext("db"), current_security(), project, member_id, role_id, client_address() or "")
    return ok()


@bp.delete("/projects/<project_name_or_id>/members/<mid>")
@require_project("member", "delete")
def delete_member(project: Project, mid: str):
    members.delete_member(ext("db"), current_security(), project, path_id(mid, "mid"), client_address() or "")
    return ok()
