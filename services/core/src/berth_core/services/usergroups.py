"""User groups (Harbor's ``/usergroups``): LDAP groups known to Berth, usable as project members.

Only LDAP groups (type 1) are supported, and only in ``ldap_auth`` mode; a group is checked in
the directory before it is created, as Harbor does.
"""

from __future__ import annotations

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.db import groups as groups_db
from berth_core.db import members as members_db
from berth_core.db.groups import UserGroup
from berth_core.errors import APIError
from berth_core.services import audit
from berth_core.services.configurations import LDAP_AUTH, Configurations
from berth_core.services.ldap import LdapClient, LdapConfig, LdapError
from berth_core.services.security import SecurityContext


def create_group(
    db: Database,
    configs: Configurations,
    ctx: SecurityContext,
    group_name: str | None,
    group_type: int,
    dn: str | None,
    client_ip: str,
) -> int:
    if group_type != groups_db.LDAP_GROUP:
        raise APIError(errors.BAD_REQUEST, "only LDAP groups (group_type 1) are supported")
    if not dn:
        raise APIError(errors.BAD_REQUEST, "ldap_group_dn is required for an LDAP group")
    with db.transaction() as cur:
        values = configs.load(cur)
    if values["auth_mode"] != LDAP_AUTH:
        raise APIError(errors.BAD_REQUEST, "LDAP groups can only be created in ldap_auth mode")
    try:
        found = LdapClient(LdapConfig.from_values(values)).group(dn)
    except LdapError as exc:
        raise APIError(errors.BAD_REQUEST, f"LDAP lookup failed: {exc}") from None
    if found is None:
        raise APIError(errors.BAD_REQUEST, f"LDAP group {dn} does not exist under the group base DN")
    name = group_name or found.name
    with db.transaction() as cur:
        group_id = groups_db.insert_group(cur, name, groups_db.LDAP_GROUP, found.dn)
        if group_id is None:
            raise APIError(errors.CONFLICT, f"a group with DN {dn} already exists")
        _record(cur, ctx, "create", name, client_ip)
    return group_id


def get_group(db: Database, group_id: int) -> UserGroup:
    with db.transaction() as cur:
        return _existing_group(cur, group_id)


def _existing_group(cur, group_id: int) -> UserGroup:
    group = groups_db.get_group(cur, group_id)
    if group is None:
        raise APIError(errors.NOT_FOUND, f"user group {group_id} not found")
    return group


def list_groups(
    db: Database,
    params: ListParams,
    *,
    group_name: str | None = None,
    ldap_group_dn: str | None = None,
    exact: bool = False,
) -> tuple[list[UserGroup], int]:
    with db.transaction() as cur:
        return groups_db.list_groups(cur, params, group_name=group_name, ldap_group_dn=ldap_group_dn, exact_name=exact)


def rename_group(db: Database, ctx: SecurityContext, group_id: int, group_name: str, client_ip: str) -> None:
    with db.transaction() as cur:
        if not groups_db.rename_group(cur, group_id, group_name):
            raise APIError(errors.NOT_FOUND, f"user group {group_id} not found")
        _record(cur, ctx, "update", group_name, client_ip)


def delete_group(db: Database, ctx: SecurityContext, group_id: int, client_ip: str) -> None:
    """Delete a group and its project memberships (users keep their own memberships)."""
    with db.transaction() as cur:
        group = _existing_group(cur, group_id)
        members_db.delete_entity_memberships(cur, group_id, "g")
        groups_db.delete_group(cur, group_id)
        _record(cur, ctx, "delete", group.group_name, client_ip)


def _record(cur, ctx: SecurityContext, operation: str, group_name: str, client_ip: str) -> None:
    """Audit a change to user group ``group_name`` in the caller's transaction."""
    audit.record_change(cur, ctx, operation, "user_group", group_name, client_ip=client_ip)
