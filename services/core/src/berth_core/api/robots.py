"""``/api/v2.0/robots[/{robot_id}]`` (Harbor's v2 robot API)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from flask import Blueprint, jsonify

from berth_common.web import client_address
from berth_core import errors
from berth_core.api.common import ext, get_str, harbor_time, json_body, ok, path_id
from berth_core.api.query import EXACT, FUZZY, RANGE, Field, paging_headers, parse_list_params
from berth_core.db.robots import Robot
from berth_core.errors import APIError
from berth_core.services import robots
from berth_core.services.security import current_security

bp = Blueprint("robots", __name__, url_prefix="/api/v2.0")

QUERY_FIELDS = {
    "name": Field("str", frozenset({EXACT, FUZZY})),
    "level": Field("str", frozenset({EXACT})),
    "Level": Field("str", frozenset({EXACT})),
    "project_id": Field("int", frozenset({EXACT})),
    "ProjectID": Field("int", frozenset({EXACT})),
    "disable": Field("bool", frozenset({EXACT})),
    "creation_time": Field("time", frozenset({RANGE})),
}
SORTABLE = ("id", "name", "creation_time", "update_time", "expires_at")
ROBOT_FIELDS = ("name", "description", "secret", "level", "disable", "duration", "permissions")
# Read-only Robot fields that clients send back on PUT.
ECHOED_ROBOT_FIELDS = ("id", "editable", "expires_at", "creator_type", "creator_ref", "creation_time", "update_time")


def _prefix() -> str:
    return ext("configs").current()["robot_name_prefix"]


def robot_json(robot: Robot, prefix: str) -> dict[str, Any]:
    grouped: OrderedDict[tuple[str, str], list[dict[str, str]]] = OrderedDict()
    for grant in robot.grants:
        grouped.setdefault((grant.kind, grant.namespace), []).append(
            {"resource": grant.resource, "action": grant.action, "effect": "allow"}
        )
    return {
        "id": robot.id,
        "name": robots.full_name(robot, prefix),
        "description": robot.description,
        "level": robot.level,
        "duration": robot.duration,
        "editable": True,
        "disable": robot.disabled,
        "expires_at": robot.expires_at,
        "permissions": [{"kind": kind, "namespace": ns, "access": access} for (kind, ns), access in grouped.items()],
        "creator_type": robot.creator_type,
        "creator_ref": robot.creator_ref,
        "creation_time": harbor_time(robot.creation_time),
        "update_time": harbor_time(robot.update_time),
    }


@bp.get("/robots")
def list_robots():
    params = parse_list_params(QUERY_FIELDS, SORTABLE)
    project_cond = params.get("ProjectID") or params.get("project_id")
    level_cond = params.get("Level") or params.get("level")
    project_id = None
    if project_cond is not None and (level_cond is None or level_cond.values[0] == "project"):
        project_id = project_cond.values[0]
    items, total = robots.list_robots(ext("db"), current_security(), params, project_id)
    prefix = _prefix()
    return jsonify([robot_json(r, prefix) for r in items]), 200, paging_headers(total, params)


@bp.post("/robots")
def create_robot():
    req = robots.parse_request(json_body(ROBOT_FIELDS), creating=True)
    robot, name, secret = robots.create_robot(ext("db"), ext("configs"), ext("hasher"), current_security(), req, client_address() or "")
    body = {
        "id": robot.id,
        "name": name,
        "secret": secret,
        "creation_time": harbor_time(robot.creation_time),
        "expires_at": robot.expires_at,
    }
    return jsonify(body), 201, {"Location": f"/api/v2.0/robots/{robot.id}"}


@bp.get("/robots/<robot_id>")
def get_robot(robot_id: str):
    robot = robots.get_robot(ext("db"), current_security(), path_id(robot_id, "robot_id"))
    return jsonify(robot_json(robot, _prefix()))


@bp.put("/robots/<robot_id>")
def update_robot(robot_id: str):
    rid = path_id(robot_id, "robot_id")
    req = robots.parse_request(json_body(ROBOT_FIELDS, allow_unknown=ECHOED_ROBOT_FIELDS), creating=False)
    if req.secret is not None:
        raise APIError(errors.BAD_REQUEST, "change the secret with PATCH /robots/{robot_id}")
    robots.update_robot(ext("db"), current_security(), rid, req, client_address() or "", _prefix())
    return ok()


@bp.patch("/robots/<robot_id>")
def refresh_secret(robot_id: str):
    rid = path_id(robot_id, "robot_id")
    body = json_body(("secret",), required=False)
    secret = get_str(body, "secret", max_length=128) or None
    new_secret = robots.refresh_secret(ext("db"), ext("hasher"), current_security(), rid, secret, client_address() or "", _prefix())
    return jsonify({"secret": new_secret})


@bp.delete("/robots/<robot_id>")
def delete_robot(robot_id: str):
    robots.delete_robot(ext("db"), current_security(), path_id(robot_id, "robot_id"), client_address() or "", _prefix())
    return ok()
