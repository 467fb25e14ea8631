"""Project members: users and (LDAP) user groups with one of the five roles.

As in Harbor, a member given by name that Berth has not seen yet is looked up in LDAP and
onboarded (``SearchAndOnBoard``) when ``auth_mode`` is ``ldap_auth``.
"""

from __future__ import annotations

from typing import Any

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.db import groups as groups_db
from berth_core.db import members as members_db
from berth_core.db import users as users_db
from berth_core.db.members import Member
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import audit, rbac, usergroups
from berth_core.services.auth import Authenticator
from berth_core.services.configurations import LDAP_AUTH, Configurations
from berth_core.services.ldap import LdapClient, LdapConfig, LdapError
from berth_core.services.security import SecurityContext


def check_role(role_id: object) -> int:
    if isinstance(role_id, bool) or not isinstance(role_id, int) or role_id not in rbac.ROLE_NAMES:
        raise APIError(
            errors.BAD_REQUEST,
            "role_id must be 1 (Project Admin), 2 (Developer), 3 (Guest), 4 (Maintainer) or 5 (Limited Guest)",
        )
    return role_id


def _ldap(configs: Configurations, db: Database) -> LdapClient | None:
    with db.transaction() as cur:
        values = configs.load(cur)
    if values["auth_mode"] != LDAP_AUTH:
        return None
    return LdapClient(LdapConfig.from_values(values))


def resolve_user(db: Database, configs: Configurations, authenticator: Authenticator, spec: dict[str, Any]) -> tuple[int, str]:
    """(user_id, username) of ``member_user`` ({user_id} or {username}); onboards LDAP users."""
    user_id, username = spec.get("user_id"), spec.get("username")
    with db.transaction() as cur:
        if user_id is not None:
            if isinstance(user_id, bool) or not isinstance(user_id, int):
                raise APIError(errors.BAD_REQUEST, "member_user.user_id must be an integer")
            user = users_db.get_user(cur, user_id)
        elif isinstance(username, str) and 0 < len(username) <= 255:
            user = users_db.get_user_by_name(cur, username)
        else:
            raise APIError(errors.BAD_REQUEST, "member_user needs user_id or username")
    if user is None and user_id is None:
        client = _ldap(configs, db)
        if client is not None:
            try:
                found = client.search_users(username)
            except LdapError as exc:
                raise APIError(errors.BAD_REQUEST, f"LDAP lookup failed: {exc}") from None
            if len(found) == 1:
                user = authenticator.onboard_ldap_user(client, found[0])
    if user is None:
        raise APIError(errors.NOT_FOUND, "the user to add does not exist")
    return user.user_id, user.username


def resolve_group(db: Database, configs: Configurations, spec: dict[str, Any]) -> tuple[int, str]:
    """(group_id, name) of ``member_group`` ({id} or {ldap_group_dn}); onboards LDAP groups."""
    group_id, dn = spec.get("id"), spec.get("ldap_group_dn")
    if group_id is not None:
        if isinstance(group_id, bool) or not isinstance(group_id, int):
            raise APIError(errors.BAD_REQUEST, "member_group.id must be an integer")
        group = usergroups.get_group(db, group_id)
        return group.id, group.group_name
    if not isinstance(dn, str) or not 0 < len(dn) <= 1024:
        raise APIError(errors.BAD_REQUEST, "member_group needs id or ldap_group_dn")
    with db.transaction() as cur:
        group = groups_db.get_ldap_group_by_dn(cur, dn)
    if group is not None:
        return group.id, group.group_name
    client = _ldap(configs, db)
    if client is None:
        raise APIError(errors.BAD_REQUEST, "LDAP groups can only be added in ldap_auth mode")
    try:
        found = client.group(dn)
    except LdapError as exc:
        raise APIError(errors.BAD_REQUEST, f"LDAP lookup failed: {exc}") from None
    if found is None:
        raise APIError(errors.NOT_FOUND, f"LDAP group {dn} not found")
    name = spec.get("group_name") if isinstance(spec.get("group_name"), str) and spec.get("group_name") else found.name
    with db.transaction() as cur:
        return groups_db.ensure_ldap_group(cur, name[:255], found.dn), name[:255]


def add_member(
    db: Database,
    ctx: SecurityContext,
    project: Project,
    entity_id: int,
    entity_type: str,
    name: str,
    role_id: int,
    client_ip: str,
) -> int:
    with db.transaction() as cur:
        member_id = members_db.add_member(cur, project.project_id, entity_id, entity_type, role_id)
        if member_id is None:
            raise APIError(errors.CONFLICT, f"{name} is already a member of project {project.name}")
        _record(cur, ctx, "create", project, name, client_ip, f"role {rbac.ROLE_NAMES[role_id]}")
    return member_id


def get_member(db: Database, project: Project, member_id: int) -> Member:
    with db.transaction() as cur:
        member = members_db.get_member(cur, project.project_id, member_id)
    if member is None:
        raise APIError(errors.NOT_FOUND, f"member {member_id} not found")
    return member


def list_members(db: Database, project: Project, entityname: str | None, params: ListParams) -> tuple[list[Member], int]:
    with db.transaction() as cur:
        return members_db.list_members(cur, project.project_id, entityname, params)


def update_member(db: Database, ctx: SecurityContext, project: Project, member_id: int, role_id: int, client_ip: str) -> None:
    with db.transaction() as cur:
        member = members_db.get_member(cur, project.project_id, member_id)
        if member is None or not members_db.update_role(cur, project.project_id, member_id, role_id):
            raise APIError(errors.NOT_FOUND, f"member {member_id} not found")
        _record(cur, ctx, "update", project, member.entity_name, client_ip, f"role {rbac.ROLE_NAMES[role_id]}")


def delete_member(db: Database, ctx: SecurityContext, project: Project, member_id: int, client_ip: str) -> None:
    with db.transaction() as cur:
        member = members_db.get_member(cur, project.project_id, member_id)
        if member is None or not members_db.delete_member(cur, project.project_id, member_id):
            raise APIError(errors.NOT_FOUND, f"member {member_id} not found")
        _record(cur, ctx, "delete", project, member.entity_name, client_ip)


def _record(cur, ctx: SecurityContext, operation: str, project: Project, name: str, client_ip: str, description: str = "") -> None:
    """Audit a change to the membership of ``name`` in ``project``, in the caller's transaction."""
    audit.record_change(
        cur, ctx, operation, "member", f"{project.name}:{name}",
        project_id=project.project_id, client_ip=client_ip, description=description,
    )  # fmt: skip
