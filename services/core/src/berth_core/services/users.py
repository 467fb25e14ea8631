"""User accounts: creation (by admins or self-registration), profiles, passwords, admin flag,
soft delete, and the start-up bootstrap of ``admin`` and the public ``library`` project.

Each function is one unit of work in one transaction and records its audit entry in it.
"""

from __future__ import annotations

import dataclasses
import re

import psycopg2.errors
import structlog

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import ListParams
from berth_core.db import configurations as config_db
from berth_core.db import locks
from berth_core.db import members as members_db
from berth_core.db import projects as projects_db
from berth_core.db import sessions as sessions_db
from berth_core.db import users as users_db
from berth_core.db.users import User
from berth_core.errors import APIError
from berth_core.services import audit, rbac
from berth_core.services.auth import Authenticator
from berth_core.services.configurations import DB_AUTH, Configurations
from berth_core.services.ldap import LdapClient, LdapError
from berth_core.services.passwords import Hasher, check_policy
from berth_core.services.security import SecurityContext, deny

log = structlog.get_logger(__name__)

ADMIN_USERNAME = "admin"
DEFAULT_PROJECT = "library"
# Harbor refuses these in user names; ':' would also break Basic credentials.
_USERNAME = re.compile(r"^[^,~#$%:/\s\\\"'<>&\x00-\x1f]{1,255}$")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,190}\.[^@\s\x00-\x1f]{1,63}$")


@dataclasses.dataclass(frozen=True)
class NewUser:
    username: str
    password: str = dataclasses.field(repr=False)
    email: str | None = None
    realname: str = ""
    comment: str = ""


def check_username(username: object) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise APIError(
            errors.BAD_REQUEST,
            "username must be 1-255 characters without spaces or any of , ~ # $ % : / \\ \" ' < > &",
        )
    return username


def check_email(email: str | None) -> str | None:
    if email in (None, ""):
        return None
    if not _EMAIL.match(email) or len(email) > 255:
        raise APIError(errors.BAD_REQUEST, "email is not a valid address")
    return email


def check_text(value: str, field: str, max_length: int = 255) -> str:
    if len(value) > max_length or any(ord(ch) < 32 for ch in value):
        raise APIError(errors.BAD_REQUEST, f"{field} must be at most {max_length} printable characters")
    return value


def create_user(
    db: Database,
    configs: Configurations,
    hasher: Hasher,
    ctx: SecurityContext,
    new: NewUser,
    client_ip: str,
) -> int:
    """Create a local user; admins always may, anyone else only with self-registration on.

    Returns the new id. Raises 401/403 (not allowed), 400 (invalid or not in db_auth mode),
    409 (username or email taken).
    """
    check_username(new.username)
    email = check_email(new.email)
    check_text(new.realname, "realname")
    check_text(new.comment, "comment")
    check_policy(new.password)
    with db.transaction() as cur:
        _check_may_create(ctx, configs.load(cur))
    # Hashing is slow on purpose: after the permission check, outside the transaction.
    password_hash = hasher.hash(new.password)
    with db.transaction() as cur:
        # Serialized against auth_mode changes: a user must not appear while the mode switches.
        locks.advisory_lock(cur, locks.USERS_AND_AUTH_MODE)
        _check_may_create(ctx, configs.load(cur))
        if users_db.username_taken(cur, new.username):
            raise APIError(errors.CONFLICT, f"username {new.username} is already taken")
        if email and users_db.email_taken(cur, email):
            raise APIError(errors.CONFLICT, f"email {email} is already taken")
        user_id = users_db.insert_user(
            cur,
            username=new.username,
            email=email,
            realname=new.realname,
            comment=new.comment,
            password_hash=password_hash,
        )
        if user_id is None:
            raise APIError(errors.CONFLICT, "username or email is already taken")
        # Not _record: a self-registration has no signed-in caller, so the new user is the actor.
        audit.record(
            cur,
            operation="create",
            resource_type="user",
            resource=new.username,
            username=ctx.username or new.username,
            client_ip=client_ip,
        )
    return user_id


def _check_may_create(ctx: SecurityContext, config: dict) -> None:
    self_service = config["self_registration"] and not ctx.is_robot
    if not ctx.can_system("user", "create") and not self_service:
        if ctx.is_authenticated:
            raise APIError(errors.FORBIDDEN, "only system admins may create users")
        raise APIError(errors.UNAUTHORIZED, "authentication is required to create users")
    if config["auth_mode"] != DB_AUTH:
        raise APIError(errors.BAD_REQUEST, f"local users cannot be created in {config['auth_mode']} mode")


def _record(cur, ctx: SecurityContext, operation: str, user: User, client_ip: str, description: str = "") -> None:
    """Audit a change to ``user`` in the caller's transaction, under the caller's name."""
    audit.record_change(cur, ctx, operation, "user", user.username, client_ip=client_ip, description=description)


def list_users(db: Database, params: ListParams) -> tuple[list[User], int]:
    with db.transaction() as cur:
        return users_db.list_users(cur, params)


def search_users(db: Database, fragment: str, params: ListParams) -> tuple[list[tuple[int, str]], int]:
    """(user_id, username) of users whose name contains ``fragment``, and the total."""
    with db.transaction() as cur:
        return users_db.search_users(cur, fragment, params)


def name_taken(db: Database, configs: Configurations, ctx: SecurityContext, target: str, value: str) -> bool:
    """Harbor's ``/c/userExists``: only while sign-up is open, or for admins (it reveals names)."""
    with db.transaction() as cur:
        if not (configs.load(cur)["self_registration"] or ctx.is_sysadmin):
            raise APIError(errors.FORBIDDEN, "user lookups are only open while self-registration is enabled")
        if target == "username":
            return users_db.username_taken(cur, value)
        if target == "email":
            return users_db.email_taken(cur, value)
    raise APIError(errors.BAD_REQUEST, "target must be username or email")


def import_ldap_users(db: Database, authenticator: Authenticator, client: LdapClient, uids: list[str]) -> list[dict[str, str]]:
    """Onboard LDAP users by uid (Harbor's ``/ldap/users/import``); returns the failures."""
    failed = []
    for uid in dict.fromkeys(uids):
        try:
            found = client.search_users(uid)
        except LdapError as exc:
            failed.append({"uid": uid, "error": str(exc)})
            continue
        if len(found) != 1:
            failed.append({"uid": uid, "error": "not found in LDAP" if not found else "several LDAP entries match"})
            continue
        with db.transaction() as cur:
            exists = users_db.get_user_by_name(cur, found[0].username) is not None
        if exists:
            failed.append({"uid": uid, "error": "user already exists"})
            continue
        authenticator.onboard_ldap_user(client, found[0])
    return failed


def get_user(db: Database, user_id: int) -> User:
    with db.transaction() as cur:
        return _existing_user(cur, user_id)


def _existing_user(cur, user_id: int) -> User:
    user = users_db.get_user(cur, user_id)
    if user is None:
        raise APIError(errors.NOT_FOUND, f"user {user_id} not found")
    return user


def ensure_self_or_admin(ctx: SecurityContext, user_id: int) -> None:
    """Harbor: admins may act on anyone, users only on themselves (401/403 otherwise)."""
    if ctx.is_sysadmin or ctx.can_system("user", "update"):
        return
    if not ctx.is_authenticated:
        raise APIError(errors.UNAUTHORIZED, "authentication is required")
    if not (ctx.is_user and ctx.user_id == user_id):
        raise APIError(errors.FORBIDDEN, "users may only access their own account")


def update_profile(
    db: Database,
    ctx: SecurityContext,
    user_id: int,
    *,
    email: str | None,
    realname: str | None,
    comment: str | None,
    client_ip: str,
) -> None:
    ensure_self_or_admin(ctx, user_id)
    with db.transaction() as cur:
        user = _existing_user(cur, user_id)
        new_email = user.email if email is None else check_email(email)
        if new_email and new_email != user.email and users_db.email_taken(cur, new_email, user_id):
            raise APIError(errors.CONFLICT, f"email {new_email} is already taken")
        users_db.update_profile(
            cur,
            user_id,
            email=new_email,
            realname=check_text(realname, "realname") if realname is not None else user.realname,
            comment=check_text(comment, "comment") if comment is not None else user.comment,
        )
        _record(cur, ctx, "update", user, client_ip)


def change_password(
    db: Database,
    hasher: Hasher,
    ctx: SecurityContext,
    user_id: int,
    *,
    old_password: str | None,
    new_password: str,
    client_ip: str,
) -> None:
    """Users change their own password (old one required); admins reset anyone's without it.

    Other sessions of the user are revoked, so a stolen session dies with the old password.
    """
    ensure_self_or_admin(ctx, user_id)
    check_policy(new_password, "new_password")
    user = get_user(db, user_id)
    if user.auth_source != "db":
        raise APIError(errors.FORBIDDEN, "the password of an LDAP user is managed in LDAP")
    own = ctx.is_user and ctx.user_id == user_id
    # Admins reset other people's passwords without the old one; everyone else must prove it.
    old_required = own or not ctx.is_sysadmin
    if old_required and (not isinstance(old_password, str) or not hasher.verify(user.password_hash, old_password)):
        raise APIError(errors.FORBIDDEN, "the old password is not correct")
    if hasher.verify(user.password_hash, new_password):
        raise APIError(errors.BAD_REQUEST, "the new password must differ from the old one")
    new_hash = hasher.hash(new_password)
    with db.transaction() as cur:
        users_db.set_password_hash(cur, user_id, new_hash)
        sessions_db.delete_for_user(cur, user_id, keep=ctx.session_key if own else None)
        _record(cur, ctx, "update", user, client_ip, "password changed" if own else "password reset by an administrator")


def set_sysadmin(db: Database, ctx: SecurityContext, user_id: int, flag: bool, client_ip: str) -> None:
    if not ctx.can_system("user", "update"):
        raise deny(ctx)
    if ctx.is_user and ctx.user_id == user_id:
        raise APIError(errors.FORBIDDEN, "administrators cannot change their own admin flag")
    with db.transaction() as cur:
        user = _existing_user(cur, user_id)
        if user.username == ADMIN_USERNAME and not flag:
            raise APIError(errors.FORBIDDEN, "the initial admin always stays a system admin")
        users_db.set_sysadmin(cur, user_id, flag)
        _record(cur, ctx, "update", user, client_ip, f"sysadmin_flag set to {str(flag).lower()}")


def delete_user(db: Database, ctx: SecurityContext, user_id: int, client_ip: str) -> None:
    """Harbor's soft delete: memberships and sessions go, the row stays renamed."""
    if not ctx.can_system("user", "delete"):
        raise deny(ctx)
    if ctx.is_user and ctx.user_id == user_id:
        raise APIError(errors.FORBIDDEN, "users cannot delete themselves")
    with db.transaction() as cur:
        user = _existing_user(cur, user_id)
        if user.username == ADMIN_USERNAME:
            raise APIError(errors.FORBIDDEN, "the initial admin cannot be deleted")
        members_db.delete_entity_memberships(cur, user_id, "u")
        sessions_db.delete_for_user(cur, user_id)
        users_db.mark_deleted(cur, user_id)
        _record(cur, ctx, "delete", user, client_ip)


def bootstrap(db: Database, hasher: Hasher, admin_password: str) -> None:
    """First start: create ``admin`` (from ``admin_initial_password``) and the public ``library``
    project. Later starts change nothing, so a deleted ``library`` stays deleted. Safe when
    several workers or replicas start at once (an advisory lock and a re-check inside it)."""
    with db.transaction() as cur:
        if users_db.get_user_by_name(cur, ADMIN_USERNAME) is not None:
            return
    password_hash = hasher.hash(admin_password)
    try:
        with db.transaction() as cur:
            # Bounded wait: the holder is another worker doing this same job right now (or a
            # transaction that never ends, e.g. a test's); either way we must not hang start-up.
            cur.execute("SET LOCAL lock_timeout = '5s'")
            locks.advisory_lock(cur, locks.BOOTSTRAP)
            cur.execute("SET LOCAL lock_timeout TO DEFAULT")
            if users_db.get_user_by_name(cur, ADMIN_USERNAME) is not None:
                return  # another worker won the race
            admin_id = users_db.ensure_user(
                cur, username=ADMIN_USERNAME, email="admin@example.com", password_hash=password_hash, sysadmin_flag=True
            )
            log.info("bootstrap_admin_created", user_id=admin_id)
            if projects_db.get_project_by_name(cur, DEFAULT_PROJECT) is None:
                stored = config_db.load_all(cur).get("storage_per_project", -1)
                hard = stored if isinstance(stored, int) and not isinstance(stored, bool) else -1
                project_id = projects_db.insert_project(cur, DEFAULT_PROJECT, admin_id)
                if project_id is not None:
                    projects_db.set_metadata(cur, project_id, {"public": "true"})
                    projects_db.insert_quota(cur, project_id, hard)
                    members_db.add_member(cur, project_id, admin_id, "u", rbac.PROJECT_ADMIN)
                    log.info("bootstrap_library_created", project_id=project_id)
    except psycopg2.errors.LockNotAvailable:
        log.warning("bootstrap_skipped", reason="another process holds the bootstrap lock")
