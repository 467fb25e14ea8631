"""``/api/v2.0/usergroups`` (system admins) and ``/usergroups/search`` (any signed-in user)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import created, ext, get_int, get_str, json_body, ok, path_id
from berth_core.api.query import paging_headers, parse_list_params
from berth_core.db.groups import UserGroup
from berth_core.errors import APIError
from berth_core.services import usergroups
from berth_core.services.security import current_security, ensure_authenticated, ensure_system

bp = Blueprint("usergroups", __name__, url_prefix="/api/v2.0")


def group_json(group: UserGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "group_name": group.group_name,
        "group_type": group.group_type,
        "ldap_group_dn": group.ldap_group_dn,
    }


def _bounded_arg(name: str, limit: int) -> str | None:
    value = request.args.get(name)
    if value is not None and len(value) > limit:
        raise APIError(errors.BAD_REQUEST, f"{name} must be at most {limit} characters")
    return value or None


@bp.get("/usergroups")
def list_groups():
    ensure_system("user-group", "list")
    params = parse_list_params({}, ())
    items, total = usergroups.list_groups(
        ext("db"), params, group_name=_bounded_arg("group_name", 255), ldap_group_dn=_bounded_arg("ldap_group_dn", 1024)
    )
    return jsonify([group_json(g) for g in items]), 200, paging_headers(total, params)


@bp.get("/usergroups/search")
def search_groups():
    ensure_authenticated()
    name = _bounded_arg("groupname", 255)
    if not name:
        raise APIError(errors.BAD_REQUEST, "groupname is required")
    params = parse_list_params({}, ())
    items, total = usergroups.list_groups(ext("db"), params, group_name=name)
    body = [{"id": g.id, "group_name": g.group_name, "group_type": g.group_type} for g in items]
    return jsonify(body), 200, paging_headers(total, params)


@bp.post("/usergroups")
def create_group():
    ensure_system("user-group", "create")
    body = json_body(("group_name", "group_type", "ldap_group_dn"), allow_unknown=("id",))
    group_id = usergroups.create_group(
        ext("db"),
        ext("configs"),
        current_security(),
        get_str(body, "group_name"),
        get_int(body, "group_type", default=1) or 0,
        get_str(body, "ldap_group_dn", max_length=1024),
        client_address() or "",
    )
    return created(f"/api/v2.0/usergroups/{group_id}")


@bp.get("/usergroups/<group_id>")
def get_group(group_id: str):
    ensure_system("user-group", "read")
    return jsonify(group_json(usergroups.get_group(ext("db"), path_id(group_id, "group_id"))))


@bp.put("/usergroups/<group_id>")
def update_group(group_id: str):
    ensure_system("user-group", "update")
    gid = path_id(group_id, "group_id")
    body = json_body(("group_name",), allow_unknown=("id", "group_type", "ldap_group_dn"))
    name = get_str(body, "group_name")
    if not name:
        raise APIError(errors.BAD_REQUEST, "group_name is required")
    usergroups.rename_group(ext("db"), current_security(), gid, name, client_address() or "")
    return ok()


@bp.delete("/usergroups/<group_id>")
def delete_group(group_id: str):
    ensure_system("user-group", "delete")
    usergroups.delete_group(ext("db"), current_security(), path_id(group_id, "group_id"), client_address() or "")
    return ok()
