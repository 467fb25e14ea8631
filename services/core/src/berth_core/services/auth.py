"""Checking credentials: local users, LDAP users (onboarded at first login) and robots.

One entry point, :meth:`Authenticator.login`, serves Basic auth on the API, the token service
and the UI login form. It applies the failed-login throttle per (username, client address)
before looking at the password, records failures in the audit log, and raises the error the
caller should answer with (401, or 429 while locked out).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import structlog

from berth_common.db import Database
from berth_core import errors
from berth_core.db import groups as groups_db
from berth_core.db import robots as robots_db
from berth_core.db import throttle as throttle_db
from berth_core.db import users as users_db
from berth_core.db.robots import Robot
from berth_core.db.users import User
from berth_core.errors import APIError
from berth_core.services import audit
from berth_core.services.configurations import LDAP_AUTH, Configurations
from berth_core.services.ldap import LdapClient, LdapConfig, LdapError, LdapUser
from berth_core.services.passwords import Hasher
from berth_core.settings import CoreSettings

log = structlog.get_logger(__name__)

MAX_USERNAME = 255
MAX_PASSWORD = 1024


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who proved their identity: a user (local or LDAP) or a robot, and the name they used."""

    name: str
    user: User | None = None
    robot: Robot | None = None


def unauthorized(message: str = "invalid credentials") -> APIError:
    return APIError(errors.UNAUTHORIZED, message, headers={"WWW-Authenticate": 'Basic realm="berth"'})


def robot_expired(robot: Robot, now: float | None = None) -> bool:
    return robot.expires_at != -1 and robot.expires_at <= (now or time.time())


class Authenticator:
    def __init__(self, settings: CoreSettings, db: Database, hasher: Hasher, configs: Configurations) -> None:
        self.settings = settings
        self.db = db
        self.hasher = hasher
        self.configs = configs

    def login(self, username: Any, password: Any, client_ip: str, *, audit_success: bool = False) -> Principal:
        """The principal behind (username, password); raises a 401 or 429 APIError otherwise.

        ``audit_success`` records successful logins too (UI login, ``docker login``); failures
        are always recorded.
        """
        if not isinstance(username, str) or not isinstance(password, str):
            raise unauthorized()
        if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            raise unauthorized()
        client = (client_ip or "")[:64]
        throttle_key = username.lower()
        with self.db.transaction() as cur:
            has_failures, locked_until = throttle_db.state(cur, throttle_key, client)
            config = self.configs.load(cur)
        if locked_until is not None:
            retry = max(1, int(locked_until.timestamp() - time.time()) + 1)
            raise APIError(
                errors.TOO_MANY_REQUESTS,
                f"too many failed logins for {username[:64]}; try again in {retry} seconds",
                headers={"Retry-After": str(retry)},
            )

        try:
            if username.startswith(config["robot_name_prefix"]):
                principal = self._robot(username, password, config["robot_name_prefix"])
            else:
                principal = self._user(username, password, config)
        except LdapError as exc:
            # The directory is down or misconfigured: not the caller's fault, so no throttle.
            log.error("ldap_unavailable", error=str(exc))
            raise unauthorized("authentication failed: the LDAP server cannot be used") from None

        if principal is None:
            self._failed(throttle_key, username, client)
            raise unauthorized()
        if has_failures or audit_success:  # most requests need no write at all
            with self.db.transaction() as cur:
                if has_failures:
                    throttle_db.clear(cur, throttle_key, client)
                if audit_success:
                    audit.record(
                        cur,
                        operation="login",
                        resource_type="user",
                        resource=principal.name,
                        username=principal.name,
                        client_ip=client,
                        description="login succeeded",
                    )
        return principal

    def _failed(self, throttle_key: str, username: str, client: str) -> None:
        with self.db.transaction() as cur:
            throttle_db.purge_stale(cur, 24 * 3600)
            locked = throttle_db.record_failure(
                cur,
                throttle_key,
                client,
                window_seconds=self.settings.login_failure_window_seconds,
                max_failures=self.settings.login_max_failures,
                lockout_seconds=self.settings.login_lockout_seconds,
            )
            audit.record(
                cur,
                operation="login",
                resource_type="user",
                resource=username[:255],
                username=username[:255],
                client_ip=client,
                success=False,
                description="login failed" + ("; further attempts locked out" if locked else ""),
            )
        log.info("login_failed", username=username[:64], client_ip=client, locked=locked)

    # --- robots -------------------------------------------------------------------------------

    def _robot(self, username: str, secret: str, prefix: str) -> Principal | None:
        with self.db.transaction() as cur:
            robot = robots_db.get_robot_by_name(cur, username[len(prefix) :])
        if not self.hasher.verify(robot.secret_hash if robot else None, secret) or robot is None:
            return None
        if robot.disabled or robot_expired(robot):
            return None
        return Principal(name=username, robot=robot)

    # --- users --------------------------------------------------------------------------------

    def _user(self, username: str, password: str, config: dict[str, Any]) -> Principal | None:
        with self.db.transaction() as cur:
            user = users_db.get_user_by_name(cur, username)
        # Local accounts (in LDAP mode only the initial admin can be one) check the stored hash.
        if config["auth_mode"] != LDAP_AUTH or (user is not None and user.auth_source == "db"):
            if user is None or user.auth_source != "db":
                self.hasher.verify(None, password)  # same cost whether or not the user exists
                return None
            if not self.hasher.verify(user.password_hash, password):
                return None
            if self.hasher.needs_rehash(user.password_hash or ""):
                with self.db.transaction() as cur:
                    users_db.set_password_hash(cur, user.user_id, self.hasher.hash(password))
            return Principal(name=user.username, user=user)
        client = LdapClient(LdapConfig.from_values(config))
        entry = client.authenticate(username, password)
        if entry is None:
            return None
        user = self.onboard_ldap_user(client, entry)
        return Principal(name=user.username, user=user)

    def onboard_ldap_user(self, client: LdapClient, entry: LdapUser) -> User:
        """Create the LDAP user on first sight, refresh its attributes, admin flag and groups."""
        groups = client.groups_to_onboard(entry)
        is_admin = client.is_admin(entry)
        with self.db.transaction() as cur:
            user = users_db.get_user_by_name(cur, entry.username)
            if user is None:
                email = entry.email if entry.email and not users_db.email_taken(cur, entry.email) else None
                users_db.insert_user(
                    cur,
                    username=entry.username,
                    email=email,
                    realname=entry.realname[:255],
                    comment="onboarded from LDAP",
                    password_hash=None,
                    auth_source="ldap",
                    ldap_dn=entry.dn,
                )
                user = users_db.get_user_by_name(cur, entry.username)
                if user is None:
                    raise LdapError(f"user {entry.username} could not be onboarded")
            email = entry.email if entry.email and not users_db.email_taken(cur, entry.email, user.user_id) else None
            users_db.set_ldap_attributes(
                cur,
                user.user_id,
                ldap_dn=entry.dn,
                email=email,
                realname=entry.realname[:255],
                admin_role_in_auth=is_admin,
            )
            group_ids = [groups_db.ensure_ldap_group(cur, group.name[:255], group.dn) for group in groups]
            groups_db.set_user_groups(cur, user.user_id, group_ids)
            refreshed = users_db.get_user(cur, user.user_id)
        assert refreshed is not None
        return refreshed
