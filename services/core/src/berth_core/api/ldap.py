"""``/api/v2.0/ldap``: ping, user search and import, group search (system admins only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from berth_core import errors
from berth_core.api.common import ext, json_body
from berth_core.errors import APIError
from berth_core.services import configurations, users
from berth_core.services.configurations import LDAP_AUTH
from berth_core.services.ldap import LdapClient, LdapConfig, LdapError
from berth_core.services.security import ensure_system

bp = Blueprint("ldap", __name__, url_prefix="/api/v2.0/ldap")

# LdapConf field -> configuration item (Harbor names the timeout differently in this body).
PING_FIELDS = {
    "ldap_url": "ldap_url",
    "ldap_search_dn": "ldap_search_dn",
    "ldap_search_password": "ldap_search_password",
    "ldap_base_dn": "ldap_base_dn",
    "ldap_filter": "ldap_filter",
    "ldap_uid": "ldap_uid",
    "ldap_scope": "ldap_scope",
    "ldap_connection_timeout": "ldap_timeout",
    "ldap_verify_cert": "ldap_verify_cert",
}
MAX_IMPORT = 100


def _stored() -> dict[str, Any]:
    return ext("configs").current()


def _client(values: dict[str, Any]) -> LdapClient:
    try:
        return LdapClient(LdapConfig.from_values(values))
    except LdapError as exc:
        raise APIError(errors.BAD_REQUEST, str(exc)) from None


@bp.post("/ping")
def ping():
    ensure_system("ldap-user", "list")
    body = json_body(PING_FIELDS, required=False)
    stored = _stored()
    values = dict(stored)
    for field, item in PING_FIELDS.items():
        if body.get(field) is not None:
            values[item] = configurations.validate_item(item, body[field])
    # The stored password is only ever sent to the stored server as the stored user, so a ping
    # cannot be used to make Berth hand its LDAP password to another host.
    if "ldap_search_password" not in body:
        same_target = values["ldap_url"] == stored["ldap_url"] and values["ldap_search_dn"] == stored["ldap_search_dn"]
        values["ldap_search_password"] = stored["ldap_search_password"] if same_target else ""
    try:
        _client(values).ping()
    except LdapError as exc:
        return jsonify({"success": False, "message": str(exc)})
    return jsonify({"success": True, "message": "ldap ping succeeded"})


@bp.get("/users/search")
def search_users():
    ensure_system("ldap-user", "list")
    username = request.args.get("username") or None
    if username is not None and len(username) > 255:
        raise APIError(errors.BAD_REQUEST, "username must be at most 255 characters")
    try:
        found = _client(_stored()).search_users(username)
    except LdapError as exc:
        raise APIError(errors.BAD_REQUEST, f"LDAP search failed: {exc}") from None
    return jsonify([{"username": u.username, "realname": u.realname, "email": u.email or ""} for u in found])


@bp.post("/users/import")
def import_users():
    ensure_system("ldap-user", "create")
    body = json_body(("ldap_uid_list",))
    uids = body.get("ldap_uid_list")
    if not isinstance(uids, list) or not uids or len(uids) > MAX_IMPORT or not all(isinstance(u, str) and 0 < len(u) <= 255 for u in uids):
        raise APIError(errors.BAD_REQUEST, f"ldap_uid_list must list 1 to {MAX_IMPORT} user ids")
    stored = _stored()
    if stored["auth_mode"] != LDAP_AUTH:
        raise APIError(errors.BAD_REQUEST, "LDAP users can only be imported in ldap_auth mode")
    failed = users.import_ldap_users(ext("db"), ext("auth"), _client(stored), uids)
    if failed:
        return jsonify(failed), 404
    return "", 200


@bp.get("/groups/search")
def search_groups():
    ensure_system("user-group", "list")
    name, dn = request.args.get("groupname") or None, request.args.get("groupdn") or None
    if (name and len(name) > 255) or (dn and len(dn) > 1024):
        raise APIError(errors.BAD_REQUEST, "groupname or groupdn is too long")
    try:
        found = _client(_stored()).search_groups(name=name, dn=dn)
    except LdapError as exc:
        raise APIError(errors.BAD_REQUEST, f"LDAP search failed: {exc}") from None
    return jsonify([{"group_name": g.name, "group_type": 1, "ldap_group_dn": g.dn} for g in found])
