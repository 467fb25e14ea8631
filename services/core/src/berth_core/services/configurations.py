"""System configuration items with Harbor's names, types and defaults (``metadatalist.go``).

``load`` merges stored values over defaults; ``update`` validates a whole PUT body before
writing any of it (one transaction, nothing half-written). Secret items are encrypted at rest
and never leave through the API. ``auth_mode`` changes only while ``admin`` is the only user.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from berth_common import audit as audit_policy
from berth_common.db import Database
from berth_core import errors
from berth_core.db import configurations as config_db
from berth_core.db import locks
from berth_core.db import users as users_db
from berth_core.errors import APIError
from berth_core.services import audit
from berth_core.services.secretbox import SecretBox
from berth_core.settings import CoreSettings

DB_AUTH, LDAP_AUTH = "db_auth", "ldap_auth"
MAX_STRING = 4096


@dataclasses.dataclass(frozen=True)
class Item:
    type: type  # str, int or bool
    default: Any
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


ITEMS: dict[str, Item] = {
    # authentication
    "auth_mode": Item(str, DB_AUTH, choices=(DB_AUTH, LDAP_AUTH)),
    "primary_auth_mode": Item(bool, False),
    "self_registration": Item(bool, False),
    "session_timeout": Item(int, 60, minimum=1, maximum=60 * 24 * 365),
    "token_expiration": Item(int, 30, minimum=1, maximum=60 * 24 * 365),
    "robot_token_duration": Item(int, 30, minimum=1, maximum=365 * 100),
    "robot_name_prefix": Item(str, "robot$"),
    # LDAP
    "ldap_url": Item(str, ""),
    "ldap_search_dn": Item(str, ""),
    "ldap_search_password": Item(str, "", secret=True),
    "ldap_base_dn": Item(str, ""),
    "ldap_filter": Item(str, ""),
    "ldap_uid": Item(str, "cn"),
    "ldap_scope": Item(int, 2, minimum=0, maximum=2),
    "ldap_timeout": Item(int, 5, minimum=1, maximum=300),
    "ldap_verify_cert": Item(bool, True),
    "ldap_group_base_dn": Item(str, ""),
    "ldap_group_search_filter": Item(str, ""),
    "ldap_group_attribute_name": Item(str, "cn"),
    "ldap_group_search_scope": Item(int, 2, minimum=0, maximum=2),
    "ldap_group_admin_dn": Item(str, ""),
    "ldap_group_membership_attribute": Item(str, "memberof"),
    "ldap_group_attach_parallel": Item(bool, False),
    # projects, quota, behaviour
    "project_creation_restriction": Item(str, "everyone", choices=("everyone", "adminonly")),
    "quota_per_project_enable": Item(bool, True),
    "storage_per_project": Item(int, -1, minimum=-1, maximum=2**63 - 1),
    "read_only": Item(bool, False),
    "notification_enable": Item(bool, True),
    "banner_message": Item(str, ""),
    "pull_time_update_disable": Item(bool, False),
    "pull_count_update_disable": Item(bool, False),
    "pull_audit_log_disable": Item(bool, False),
    "scanner_skip_update_pulltime": Item(bool, False),
    "audit_log_forward_endpoint": Item(str, ""),
    "skip_audit_log_database": Item(bool, False),
    "disabled_audit_log_event_types": Item(str, ""),
}

_EVENT_TYPE = re.compile(r"^[a-z]+_[a-z_]+$")
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


class Configurations:
    """Reads and writes configuration items; one per app (holds the secret box).

    ``load``/``update`` work inside the caller's transaction; ``current``, ``for_api`` and
    ``apply`` are units of work of their own.
    """

    def __init__(self, settings: CoreSettings, box: SecretBox, db: Database) -> None:
        self.settings = settings
        self.box = box
        self.db = db

    def current(self) -> dict[str, Any]:
        """Every item's value, read in a transaction of its own."""
        with self.db.transaction() as cur:
            return self.load(cur)

    def defaults(self) -> dict[str, Any]:
        values = {name: item.default for name, item in ITEMS.items()}
        values["token_expiration"] = self.settings.token_expiration
        return values

    def load(self, cur) -> dict[str, Any]:
        """Every item's current value, secrets decrypted (for internal use only)."""
        values = self.defaults()
        for key, value in config_db.load_all(cur).items():
            item = ITEMS.get(key)
            if item is None:
                continue  # rows written by other components or older versions
            if item.secret and isinstance(value, str) and value:
                try:
                    value = self.box.decrypt(value)
                except ValueError:
                    value = ""  # unreadable with the current key: behave as unset
            if isinstance(value, item.type) and not (item.type is int and isinstance(value, bool)):
                values[key] = value
        return values

    def for_api(self) -> dict[str, dict[str, Any]]:
        """Harbor's GET shape ``{item: {value, editable}}`` without secret items."""
        with self.db.transaction() as cur:
            values = self.load(cur)
            auth_mode_editable = can_change_auth_mode(cur)
        out = {}
        for name, item in ITEMS.items():
            if item.secret:
                continue
            out[name] = {"value": values[name], "editable": auth_mode_editable if name == "auth_mode" else True}
        return out

    def update(self, cur, body: object) -> dict[str, Any]:
        """Validate and store a PUT body; returns the changed items (secrets masked).

        Raises a 400 APIError naming the first bad item; nothing is written then.
        """
        if not isinstance(body, dict):
            raise APIError(errors.BAD_REQUEST, "the body must be a JSON object of configuration items")
        changes = {key: validate_item(key, value) for key, value in body.items()}
        locks.advisory_lock(cur, locks.USERS_AND_AUTH_MODE)
        current = self.load(cur)
        merged = {**current, **changes}
        if "auth_mode" in changes and changes["auth_mode"] != current["auth_mode"] and not can_change_auth_mode(cur):
            raise APIError(errors.BAD_REQUEST, "auth_mode can only be changed while admin is the only user")
        if merged["skip_audit_log_database"] and not merged["audit_log_forward_endpoint"]:
            raise APIError(errors.BAD_REQUEST, "skip_audit_log_database requires audit_log_forward_endpoint")
        stored = {key: self.box.encrypt(value) if ITEMS[key].secret and value else value for key, value in changes.items()}
        config_db.upsert(cur, stored)
        return {key: "********" if ITEMS[key].secret else value for key, value in changes.items()}

    def apply(self, body: object, username: str, client_ip: str) -> None:
        """A PUT from the API: validate, store and audit in one transaction (secrets not logged)."""
        with self.db.transaction() as cur:
            changed = self.update(cur, body)
            audit.record(
                cur,
                operation="update",
                resource_type="configuration",
                resource="configurations",
                username=username,
                client_ip=client_ip,
                description="changed " + ", ".join(sorted(changed)),
            )


def can_change_auth_mode(cur) -> bool:
    """Harbor's rule: only while no user other than ``admin`` exists."""
    return users_db.count_active_users(cur) <= 1


def validate_item(key: object, value: object) -> Any:
    """The value if ``key`` is a known item and ``value`` has its type and range; else 400."""
    item = ITEMS.get(key) if isinstance(key, str) else None
    if item is None:
        raise APIError(errors.BAD_REQUEST, f"unknown configuration item {str(key)[:64]!r}")
    if item.type is bool:
        if not isinstance(value, bool):
            raise APIError(errors.BAD_REQUEST, f"{key} must be a boolean")
    elif item.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise APIError(errors.BAD_REQUEST, f"{key} must be an integer")
        if item.minimum is not None and value < item.minimum:
            raise APIError(errors.BAD_REQUEST, f"{key} must be at least {item.minimum}")
        if item.maximum is not None and value > item.maximum:
            raise APIError(errors.BAD_REQUEST, f"{key} must be at most {item.maximum}")
    else:
        if not isinstance(value, str):
            raise APIError(errors.BAD_REQUEST, f"{key} must be a string")
        if len(value) > MAX_STRING or "\x00" in value:
            raise APIError(errors.BAD_REQUEST, f"{key} is too long or contains a NUL character")
        if item.choices and value not in item.choices:
            raise APIError(errors.BAD_REQUEST, f"{key} must be one of {', '.join(item.choices)}")
        _check_string_item(key, value)
    return value


def _check_string_item(key: str, value: str) -> None:
    if key == "ldap_url" and value and not re.match(r"^ldaps?://[^\s/]+(:\d+)?/?$", value):
        raise APIError(errors.BAD_REQUEST, "ldap_url must look like ldap://host:port or ldaps://host:port")
    if key in ("ldap_uid", "ldap_group_attribute_name", "ldap_group_membership_attribute") and not _ATTRIBUTE.match(value):
        raise APIError(errors.BAD_REQUEST, f"{key} must be an LDAP attribute name")
    if key in ("ldap_filter", "ldap_group_search_filter") and value and not _balanced_filter(value):
        raise APIError(errors.BAD_REQUEST, f"{key} must be an LDAP filter with balanced parentheses")
    if key == "robot_name_prefix" and not re.match(r"^[A-Za-z0-9$_.-]{1,32}$", value):
        raise APIError(errors.BAD_REQUEST, "robot_name_prefix must be 1-32 letters, digits or $_.-")
    if key == "audit_log_forward_endpoint" and value and not _ENDPOINT.match(value):
        raise APIError(errors.BAD_REQUEST, "audit_log_forward_endpoint must be host:port")
    if key == "disabled_audit_log_event_types" and not all(_EVENT_TYPE.match(name) for name in audit_policy.parse_event_types(value)):
        raise APIError(errors.BAD_REQUEST, "disabled_audit_log_event_types must be event types such as create_user,pull_artifact")


def _balanced_filter(value: str) -> bool:
    depth = 0
    for ch in value:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0 and value.startswith("(")
