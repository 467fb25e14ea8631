"""Robot accounts (Harbor's v2 robot API): system and project level, explicit grants, expiry.

Names: ``<prefix><project>+<name>`` for project robots, ``<prefix><name>`` for system robots
(prefix = ``robot_name_prefix``, default ``robot$``). The secret is generated (or given),
returned once, and stored only as an argon2id hash. Nobody may grant a robot more than they
hold themselves: each requested grant is checked against the creator's own permissions.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.db import projects as projects_db
from berth_core.db import robots as robots_db
from berth_core.db.robots import Grant, Robot
from berth_core.errors import APIError
from berth_core.services import audit, rbac
from berth_core.services.configurations import Configurations
from berth_core.services.passwords import Hasher, check_policy, generate_secret
from berth_core.services.security import SecurityContext, deny

ROBOT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
MAX_PERMISSIONS = 100
MAX_ACCESS = 200
DAY = 86400


@dataclasses.dataclass(frozen=True)
class RobotRequest:
    """A validated RobotCreate / Robot (PUT) body."""

    name: str
    description: str
    level: str
    disable: bool
    duration: int | None
    secret: str | None = dataclasses.field(repr=False)
    permissions: tuple[dict[str, Any], ...]


def parse_request(body: dict[str, Any], *, creating: bool) -> RobotRequest:
    """Validate the shape and types of a robot body; raises 400 naming the problem."""
    name = body.get("name")
    if creating and (not isinstance(name, str) or not ROBOT_NAME.match(name) or len(name) > 128):
        raise APIError(errors.BAD_REQUEST, "name must be 1-128 lower-case letters and digits separated by '.', '_' or '-'")
    level = body.get("level")
    if level not in ("system", "project"):
        raise APIError(errors.BAD_REQUEST, "level must be system or project")
    description = body.get("description") or ""
    if not isinstance(description, str) or len(description) > 1024:
        raise APIError(errors.BAD_REQUEST, "description must be a string of at most 1024 characters")
    disable = body.get("disable", False)
    if not isinstance(disable, bool):
        raise APIError(errors.BAD_REQUEST, "disable must be a boolean")
    duration = body.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or duration == 0 or duration < -1):
        raise APIError(errors.BAD_REQUEST, "duration must be -1 (never expires) or a positive number of days")
    if duration is not None and duration > 365 * 100:
        raise APIError(errors.BAD_REQUEST, "duration must be at most 36500 days")
    secret = body.get("secret")
    if secret is not None:
        check_policy(secret, "secret")
    permissions = body.get("permissions")
    if not isinstance(permissions, list) or not permissions or len(permissions) > MAX_PERMISSIONS:
        raise APIError(errors.BAD_REQUEST, f"permissions must be a list of 1 to {MAX_PERMISSIONS} entries")
    for entry in permissions:
        if not isinstance(entry, dict) or set(entry) - {"kind", "namespace", "access"}:
            raise APIError(errors.BAD_REQUEST, "each permission must be {kind, namespace, access}")
        access = entry.get("access")
        if not isinstance(access, list) or not access or len(access) > MAX_ACCESS:
            raise APIError(errors.BAD_REQUEST, f"permission access must be a list of 1 to {MAX_ACCESS} entries")
        for item in access:
            if not isinstance(item, dict) or set(item) - {"resource", "action", "effect"}:
                raise APIError(errors.BAD_REQUEST, "each access must be {resource, action, effect}")
            if not isinstance(item.get("resource"), str) or not isinstance(item.get("action"), str):
                raise APIError(errors.BAD_REQUEST, "access resource and action must be strings")
            if item.get("effect", "allow") not in ("allow", None):
                raise APIError(errors.BAD_REQUEST, "only effect 'allow' is supported")
    return RobotRequest(name or "", description, level, disable, duration, secret, tuple(permissions))


def resolve_grants(cur, ctx: SecurityContext, req: RobotRequest) -> tuple[list[Grant], int | None]:
    """Turn the permission entries into grants the caller may give; (grants, project id).

    Project robots have exactly one ``project`` entry naming their project; system robots may
    have ``system`` entries (namespace "/") and ``project`` entries for named projects or "*".
    """
    grants: list[Grant] = []
    robot_project: int | None = None
    for entry in req.permissions:
        kind, namespace = entry.get("kind"), entry.get("namespace")
        pairs = [(item["resource"], item["action"]) for item in entry["access"]]
        if kind == "system":
            if req.level != "system" or namespace != "/":
                raise APIError(errors.BAD_REQUEST, "system permissions need a system robot and namespace '/'")
            for pair in pairs:
                if pair not in rbac.SYSTEM_PERMISSIONS:
                    raise APIError(errors.BAD_REQUEST, f"unknown system permission {pair[0][:64]}:{pair[1][:64]}")
                if not ctx.can_system(*pair):
                    raise APIError(errors.FORBIDDEN, f"the caller may not grant {pair[0]}:{pair[1]}")
                grants.append(Grant("system", "/", None, *pair))
        elif kind == "project":
            if not isinstance(namespace, str) or not namespace:
                raise APIError(errors.BAD_REQUEST, "a project permission needs the project name as namespace")
            if namespace == "*":
                if req.level != "system":
                    raise APIError(errors.BAD_REQUEST, "only system robots may cover every project ('*')")
                project_id = None
            else:
                project = projects_db.get_project_by_name(cur, namespace)
                if project is None:
                    raise APIError(errors.NOT_FOUND, f"project {namespace[:255]} not found")
                ctx.remember_project(project)
                project_id = project.project_id
                if req.level == "project":
                    if robot_project is not None and robot_project != project_id:
                        raise APIError(errors.BAD_REQUEST, "a project robot covers exactly one project")
                    robot_project = project_id
            for pair in pairs:
                if pair not in rbac.PROJECT_PERMISSIONS:
                    raise APIError(errors.BAD_REQUEST, f"unknown project permission {pair[0][:64]}:{pair[1][:64]}")
                permitted = ctx.is_sysadmin if project_id is None else ctx.can(project_id, *pair)
                if not permitted:
                    raise APIError(errors.FORBIDDEN, f"the caller may not grant {pair[0]}:{pair[1]} on {namespace}")
                grants.append(Grant("project", namespace, project_id, *pair))
        else:
            raise APIError(errors.BAD_REQUEST, "permission kind must be system or project")
    if req.level == "project" and robot_project is None:
        raise APIError(errors.BAD_REQUEST, "a project robot needs one project permission")
    return grants, robot_project


def full_name(robot: Robot, prefix: str) -> str:
    return prefix + robot.name


def _ensure_may_manage(ctx: SecurityContext, level: str, project_id: int | None, action: str) -> None:
    allowed = ctx.can_system("robot", action) if level == "system" else ctx.can(project_id or 0, "robot", action)
    if not allowed:
        raise deny(ctx)


def _existing_robot(cur, robot_id: int) -> Robot:
    robot = robots_db.get_robot(cur, robot_id)
    if robot is None:
        raise APIError(errors.NOT_FOUND, f"robot {robot_id} not found")
    return robot


def _record(cur, ctx: SecurityContext, operation: str, name: str, project_id: int | None, client_ip: str, description: str = "") -> None:
    """Audit a change to robot ``name`` (its full name) in the caller's transaction."""
    audit.record_change(cur, ctx, operation, "robot", name, project_id=project_id, client_ip=client_ip, description=description)


def create_robot(
    db: Database, configs: Configurations, hasher: Hasher, ctx: SecurityContext, req: RobotRequest, client_ip: str
) -> tuple[Robot, str, str]:
    """Create a robot; returns (robot, full name, secret). The secret is never stored in clear."""
    if not ctx.is_authenticated:
        raise APIError(errors.UNAUTHORIZED, "authentication is required")
    secret = req.secret or generate_secret()
    secret_hash = hasher.hash(secret)
    with db.transaction() as cur:
        config = configs.load(cur)
        grants, project_id = resolve_grants(cur, ctx, req)
        _ensure_may_manage(ctx, req.level, project_id, "create")
        if req.level == "project":
            project = projects_db.get_project(cur, project_id or 0)
            assert project is not None
            stored_name = f"{project.name}+{req.name}"
        else:
            stored_name = req.name
        duration = req.duration if req.duration is not None else config["robot_token_duration"]
        expires_at = -1 if duration == -1 else int(time.time()) + duration * DAY
        robot_id = robots_db.insert_robot(
            cur,
            name=stored_name,
            description=req.description,
            level=req.level,
            project_id=project_id,
            secret_hash=secret_hash,
            duration=duration,
            expires_at=expires_at,
            disabled=req.disable,
            creator_type="robot" if ctx.is_robot else "local",
            creator_ref=(ctx.robot_id if ctx.is_robot else ctx.user_id) or 0,
        )
        if robot_id is None:
            raise APIError(errors.CONFLICT, f"robot {config['robot_name_prefix']}{stored_name} already exists")
        robots_db.replace_grants(cur, robot_id, grants)
        robot = robots_db.get_robot(cur, robot_id)
        assert robot is not None
        name = full_name(robot, config["robot_name_prefix"])
        _record(cur, ctx, "create", name, project_id, client_ip)
    return robot, name, secret


def get_robot(db: Database, ctx: SecurityContext, robot_id: int) -> Robot:
    with db.transaction() as cur:
        robot = _existing_robot(cur, robot_id)
    if ctx.robot_id != robot.id:
        _ensure_may_manage(ctx, robot.level, robot.project_id, "read")
    return robot


def list_robots(db: Database, ctx: SecurityContext, params: ListParams, project_id: int | None) -> tuple[list[Robot], int]:
    """System admins list every robot; project robot readers list that project's robots."""
    if project_id is not None:
        _ensure_may_manage(ctx, "project", project_id, "list")
        only = [project_id]
    else:
        _ensure_may_manage(ctx, "system", None, "list")
        only = None
    with db.transaction() as cur:
        return robots_db.list_robots(cur, params, only)


def update_robot(db: Database, ctx: SecurityContext, robot_id: int, req: RobotRequest, client_ip: str, prefix: str) -> None:
    """PUT: description, disable, duration and permissions; name and level cannot change."""
    with db.transaction() as cur:
        robot = _existing_robot(cur, robot_id)
        _ensure_may_manage(ctx, robot.level, robot.project_id, "update")
        if req.level != robot.level:
            raise APIError(errors.BAD_REQUEST, "the level of a robot cannot change")
        if req.name and req.name not in (robot.name, full_name(robot, prefix), robot.name.split("+", 1)[-1]):
            raise APIError(errors.BAD_REQUEST, "the name of a robot cannot change")
        grants, project_id = resolve_grants(cur, ctx, req)
        if project_id != robot.project_id:
            raise APIError(errors.BAD_REQUEST, "a project robot cannot move to another project")
        duration = robot.duration if req.duration is None else req.duration
        expires_at = robot.expires_at
        if duration != robot.duration:
            expires_at = -1 if duration == -1 else int(robot.creation_time.timestamp()) + duration * DAY
        robots_db.update_robot(cur, robot_id, description=req.description, disabled=req.disable, duration=duration, expires_at=expires_at)
        robots_db.replace_grants(cur, robot_id, grants)
        _record(cur, ctx, "update", full_name(robot, prefix), robot.project_id, client_ip)


def refresh_secret(
    db: Database, hasher: Hasher, ctx: SecurityContext, robot_id: int, secret: str | None, client_ip: str, prefix: str
) -> str:
    """PATCH: set the given secret (policy-checked) or generate one; returns it (shown once)."""
    if secret is not None:
        check_policy(secret, "secret")
    new_secret = secret or generate_secret()
    new_hash = hasher.hash(new_secret)
    with db.transaction() as cur:
        robot = _existing_robot(cur, robot_id)
        if ctx.robot_id != robot.id:  # a robot may always refresh its own secret (Harbor)
            _ensure_may_manage(ctx, robot.level, robot.project_id, "update")
        robots_db.set_secret_hash(cur, robot_id, new_hash)
        _record(cur, ctx, "update", full_name(robot, prefix), robot.project_id, client_ip, "secret refreshed")
    return new_secret


def delete_robot(db: Database, ctx: SecurityContext, robot_id: int, client_ip: str, prefix: str) -> None:
    with db.transaction() as cur:
        robot = _existing_robot(cur, robot_id)
        _ensure_may_manage(ctx, robot.level, robot.project_id, "delete")
        robots_db.delete_robot(cur, robot_id)
        _record(cur, ctx, "delete", full_name(robot, prefix), robot.project_id, client_ip)
