"""``/api/v2.0/users`` as Harbor serves it: accounts, profile, password, admin flag, and the
current user with its permissions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import created, ext, get_bool, get_str, harbor_time, json_body, ok, path_id
from berth_core.api.query import ANY, EXACT, FUZZY, RANGE, Field, paging_headers, parse_bool_arg, parse_list_params
from berth_core.db.users import User
from berth_core.errors import APIError
from berth_core.services import users
from berth_core.services.security import current_security, ensure_authenticated, ensure_system, load_project

bp = Blueprint("users", __name__, url_prefix="/api/v2.0")

QUERY_FIELDS = {
    "username": Field("str", frozenset({EXACT, FUZZY, ANY})),
    "email": Field("str", frozenset({EXACT, FUZZY})),
    "user_id": Field("int", frozenset({EXACT, ANY, RANGE})),
    "sysadmin_flag": Field("bool", frozenset({EXACT})),
    "creation_time": Field("time", frozenset({RANGE})),
}
SORTABLE = ("user_id", "username", "email", "creation_time", "update_time")
CREATE_FIELDS = ("username", "email", "realname", "comment", "password")
PROFILE_FIELDS = ("email", "realname", "comment")
# Fields of UserResp that clients (and Harbor's UI) send back on a profile PUT; ignored.
ECHOED_USER_FIELDS = (
    "user_id",
    "username",
    "sysadmin_flag",
    "admin_role_in_auth",
    "creation_time",
    "update_time",
    "oidc_user_meta",
)


def user_json(user: User, *, current: bool = False) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email or "",
        "realname": user.realname,
        "comment": user.comment,
        "sysadmin_flag": user.sysadmin_flag,
        # Harbor: only meaningful (and only shown) for the logged-in user.
        "admin_role_in_auth": user.admin_role_in_auth if current else False,
        "creation_time": harbor_time(user.creation_time),
        "update_time": harbor_time(user.update_time),
    }


@bp.get("/users")
def list_users():
    ensure_system("user", "list")
    params = parse_list_params(QUERY_FIELDS, SORTABLE)
    items, total = users.list_users(ext("db"), params)
    return jsonify([user_json(u) for u in items]), 200, paging_headers(total, params)


@bp.post("/users")
def create_user():
    body = json_body(CREATE_FIELDS)
    new = users.NewUser(
        username=get_str(body, "username") or "",
        password=get_str(body, "password", max_length=1024) or "",
        email=get_str(body, "email"),
        realname=get_str(body, "realname", default="") or "",
        comment=get_str(body, "comment", default="") or "",
    )
    user_id = users.create_user(ext("db"), ext("configs"), ext("hasher"), current_security(), new, client_address() or "")
    return created(f"/api/v2.0/users/{user_id}")


@bp.get("/users/current")
def current_user():
    ctx = ensure_authenticated()
    if not ctx.is_user or ctx.user_id is None:
        raise APIError(errors.PRECONDITION, "the current principal is not a user (robot accounts have no profile)")
    return jsonify(user_json(users.get_user(ext("db"), ctx.user_id), current=True))


@bp.get("/users/current/permissions")
def current_permissions():
    """Harbor's permission list for a scope: ``/project/<id or name>`` or ``/system``."""
    ctx = ensure_authenticated()
    scope = request.args.get("scope", "")
    relative = parse_bool_arg(request.args, "relative", False)
    if scope.rstrip("/") == "/system":
        pairs = ctx.system_permissions()
        prefix = "/system/"
    elif scope.startswith("/project/") and scope.count("/") == 2 and len(scope) > len("/project/"):
        project = load_project(scope[len("/project/") :])
        pairs = ctx.permissions(project.project_id)
        prefix = f"/project/{project.project_id}/"
    elif scope == "":
        return jsonify([])
    else:
        raise APIError(errors.BAD_REQUEST, "scope must be /system or /project/<id>")
    return jsonify([{"resource": res if relative else prefix + res, "action": action} for res, action in pairs])


@bp.get("/users/search")
def search_users():
    ensure_authenticated()
    username = request.args.get("username")
    if not username:
        raise APIError(errors.BAD_REQUEST, "username is required")
    if len(username) > 255:
        raise APIError(errors.BAD_REQUEST, "username must be at most 255 characters")
    params = parse_list_params({}, ())
    found, total = users.search_users(ext("db"), username, params)
    return jsonify([{"user_id": uid, "username": name} for uid, name in found]), 200, paging_headers(total, params)


@bp.get("/users/<user_id>")
def get_user(user_id: str):
    uid = path_id(user_id, "user_id")
    ctx = current_security()
    users.ensure_self_or_admin(ctx, uid)
    return jsonify(user_json(users.get_user(ext("db"), uid), current=ctx.user_id == uid and ctx.is_user))


@bp.put("/users/<user_id>")
def update_user(user_id: str):
    uid = path_id(user_id, "user_id")
    body = json_body(PROFILE_FIELDS, allow_unknown=ECHOED_USER_FIELDS)
    users.update_profile(
        ext("db"),
        current_security(),
        uid,
        email=get_str(body, "email"),
        realname=get_str(body, "realname"),
        comment=get_str(body, "comment"),
        client_ip=client_address() or "",
    )
    return ok()


@bp.delete("/users/<user_id>")
def delete_user(user_id: str):
    users.delete_user(ext("db"), current_security(), path_id(user_id, "user_id"), client_address() or "")
    return ok()


@bp.put("/users/<user_id>/sysadmin")
def set_sysadmin(user_id: str):
    body = json_body(("sysadmin_flag",))
    flag = get_bool(body, "sysadmin_flag")
    if flag is None:
        raise APIError(errors.BAD_REQUEST, "sysadmin_flag is required")
    users.set_sysadmin(ext("db"), current_security(), path_id(user_id, "user_id"), flag, client_address() or "")
    return ok()


@bp.put("/users/<user_id>/password")
def change_password(user_id: str):
    body = json_body(("old_password", "new_password"))
    new_password = get_str(body, "new_password", max_length=1024)
    if new_password is None:
        raise APIError(errors.BAD_REQUEST, "new_password is required")
    users.change_password(
        ext("db"),
        ext("hasher"),
        current_security(),
        path_id(user_id, "user_id"),
        old_password=get_str(body, "old_password", max_length=1024),
        new_password=new_password,
        client_ip=client_address() or "",
    )
    return ok()


@bp.put("/users/<user_id>/cli_secret")
def set_cli_secret(user_id: str):
    path_id(user_id, "user_id")
    ensure_authenticated()
    raise APIError(errors.PRECONDITION, "CLI secrets exist only in oidc_auth mode, which Berth does not support")
