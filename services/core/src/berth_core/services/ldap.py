"""LDAP / Active Directory as Harbor uses it (``src/pkg/ldap``), with ldap3.

Users are found with ``(&<ldap_filter>(<ldap_uid>=<name>))`` under ``ldap_base_dn`` after
binding with the search DN, then authenticated by binding as the entry's DN. Group membership
comes from the user's ``ldap_group_membership_attribute`` (memberOf); servers without that
overlay are searched for groups listing the user (member, uniqueMember, memberUid) instead.
Every value that goes into a filter is escaped; empty passwords are refused before any bind
(many servers treat them as an unauthenticated, "successful" bind).
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

SCOPES = {0: ldap3.BASE, 1: ldap3.LEVEL, 2: ldap3.SUBTREE}
SEARCH_LIMIT = 1000


class LdapError(Exception):
    """The directory could not be reached or answered unexpectedly; the message is safe to show."""


@dataclasses.dataclass(frozen=True)
class LdapConfig:
    url: str
    search_dn: str = ""
    search_password: str = dataclasses.field(default="", repr=False)
    base_dn: str = ""
    filter: str = ""
    uid: str = "cn"
    scope: int = 2
    timeout: int = 5
    verify_cert: bool = True
    group_base_dn: str = ""
    group_search_filter: str = ""
    group_attribute_name: str = "cn"
    group_search_scope: int = 2
    group_admin_dn: str = ""
    group_membership_attribute: str = "memberof"

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> LdapConfig:
        """From configuration items (``ldap_url``, ``ldap_search_dn``, ...)."""
        return cls(
            url=values["ldap_url"],
            search_dn=values["ldap_search_dn"],
            search_password=values["ldap_search_password"],
            base_dn=values["ldap_base_dn"],
            filter=values["ldap_filter"],
            uid=values["ldap_uid"] or "cn",
            scope=values["ldap_scope"],
            timeout=values["ldap_timeout"],
            verify_cert=values["ldap_verify_cert"],
            group_base_dn=values["ldap_group_base_dn"],
            group_search_filter=values["ldap_group_search_filter"],
            group_attribute_name=values["ldap_group_attribute_name"] or "cn",
            group_search_scope=values["ldap_group_search_scope"],
            group_admin_dn=values["ldap_group_admin_dn"],
            group_membership_attribute=values["ldap_group_membership_attribute"] or "memberof",
        )


@dataclasses.dataclass(frozen=True)
class LdapUser:
    dn: str
    username: str
    realname: str
    email: str | None
    group_dns: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class LdapGroup:
    dn: str
    name: str


def normalize_dn(dn: str) -> str:
    """A DN in a canonical form for comparisons (case and spacing around separators ignored)."""
    try:
        return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _sep in parse_dn(dn, strip=True))
    except LDAPException:
        return dn.strip().lower()


def dn_under(dn: str, base: str) -> bool:
    normalized, base_normalized = normalize_dn(dn), normalize_dn(base)
    return normalized == base_normalized or normalized.endswith("," + base_normalized)


class LdapClient:
    """One configured directory; every call opens and closes its own connection."""

    def __init__(self, config: LdapConfig) -> None:
        if not config.url:
            raise LdapError("ldap_url is not configured")
        self.config = config
        parts = urlsplit(config.url if "://" in config.url else f"ldap://{config.url}")
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise LdapError("ldap_url must look like ldap://host:port or ldaps://host:port")
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if config.verify_cert else ssl.CERT_NONE)
        self._server = ldap3.Server(
            parts.hostname,
            port=parts.port,
            use_ssl=parts.scheme == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=config.timeout,
        )

    # --- connections ------------------------------------------------------------------------------

    def _bind(self, dn: str, password: str) -> ldap3.Connection:
        """A bound connection; raises LdapError when the server is unreachable or refuses."""
        conn = ldap3.Connection(
            self._server,
            user=dn or None,
            password=password or None,
            receive_timeout=self.config.timeout,
            raise_exceptions=False,
            read_only=True,
        )
        try:
            if not conn.bind():
                raise LdapError(f"bind as {dn or 'anonymous'} failed: {conn.result.get('description', 'refused')}")
        except LDAPException as exc:
            raise LdapError(f"cannot reach LDAP server: {type(exc).__name__}") from None
        return conn

    def _search_connection(self) -> ldap3.Connection:
        return self._bind(self.config.search_dn, self.config.search_password)

    def ping(self) -> None:
        """Bind with the search DN and read the base DN; raises LdapError with the reason."""
        conn = self._search_connection()
        try:
            if self.config.base_dn and not conn.search(self.config.base_dn, "(objectClass=*)", ldap3.BASE, attributes=[]):
                raise LdapError(f"base DN {self.config.base_dn} cannot be read: {conn.result.get('description')}")
        finally:
            conn.unbind()

    # --- users ------------------------------------------------------------------------------------

    def _user_filter(self, username: str | None) -> str:
        value = escape_filter_chars(username) if username else "*"
        own = f"({self.config.uid}={value})"
        extra = self.config.filter.strip()
        return f"(&{extra}{own})" if extra else own

    def _user_attributes(self) -> list[str]:
        return [self.config.uid, "cn", "displayName", "mail", "email", self.config.group_membership_attribute]

    def _to_user(self, entry: dict[str, Any]) -> LdapUser:
        attrs = {key.lower(): value for key, value in entry["attributes"].items()}

        def first(name: str) -> str:
            value = attrs.get(name.lower())
            if isinstance(value, list):
                value = value[0] if value else ""
            return str(value) if value else ""

        username = first(self.config.uid)
        groups = attrs.get(self.config.group_membership_attribute.lower()) or []
        return LdapUser(
            dn=entry["dn"],
            username=username,
            realname=first("displayName") or first("cn") or username,
            email=first("mail") or first("email") or None,
            group_dns=tuple(str(g) for g in (groups if isinstance(groups, list) else [groups])),
        )

    def search_users(self, username: str | None = None) -> list[LdapUser]:
        """Users whose uid equals ``username`` (every user when None), at most SEARCH_LIMIT."""
        conn = self._search_connection()
        try:
            conn.search(
                self.config.base_dn,
                self._user_filter(username),
                SCOPES[self.config.scope],
                attributes=self._user_attributes(),
                size_limit=SEARCH_LIMIT,
            )
            return [self._to_user(entry) for entry in conn.response or [] if entry.get("type") == "searchResEntry"]
        except LDAPException as exc:
            raise LdapError(f"user search failed: {type(exc).__name__}") from None
        finally:
            conn.unbind()

    def authenticate(self, username: str, password: str) -> LdapUser | None:
        """The user's entry with its groups if the password is right, else None.

        Raises LdapError when the directory cannot be used (so callers can tell "wrong password"
        from "LDAP is down").
        """
        if not username or not password:
            return None
        found = self.search_users(username)
        if len(found) != 1:
            return None  # unknown, or ambiguous (Harbor refuses several matches too)
        user = found[0]
        try:
            conn = ldap3.Connection(
                self._server,
                user=user.dn,
                password=password,
                receive_timeout=self.config.timeout,
                raise_exceptions=False,
            )
            ok = conn.bind()
            conn.unbind()
        except LDAPException as exc:
            raise LdapError(f"cannot reach LDAP server: {type(exc).__name__}") from None
        if not ok:
            return None
        if not user.group_dns and self.config.group_base_dn:
            user = dataclasses.replace(user, group_dns=tuple(group.dn for group in self._groups_listing(user)))
        return user

    # --- groups -----------------------------------------------------------------------------------

    def _group_filter(self, inner: str) -> str:
        extra = self.config.group_search_filter.strip()
        return f"(&{extra}{inner})" if extra else inner

    def _groups_listing(self, user: LdapUser) -> list[LdapGroup]:
        """Groups under the group base DN that name the user as a member (no memberOf overlay)."""
        dn = escape_filter_chars(user.dn)
        uid = escape_filter_chars(user.username)
        return self._search_groups(f"(|(member={dn})(uniqueMember={dn})(memberUid={uid}))")

    def _search_groups(self, inner: str, base: str | None = None, scope: int | None = None) -> list[LdapGroup]:
        if not self.config.group_base_dn and base is None:
            raise LdapError("ldap_group_base_dn is not configured")
        name_attr = self.config.group_attribute_name
        conn = self._search_connection()
        try:
            conn.search(
                base or self.config.group_base_dn,
                self._group_filter(inner),
                SCOPES[self.config.group_search_scope if scope is None else scope],
                attributes=[name_attr],
                size_limit=SEARCH_LIMIT,
            )
            groups = []
            for entry in conn.response or []:
                if entry.get("type") != "searchResEntry":
                    continue
                attrs = {key.lower(): value for key, value in entry["attributes"].items()}
                name = attrs.get(name_attr.lower())
                if isinstance(name, list):
                    name = name[0] if name else ""
                groups.append(LdapGroup(entry["dn"], str(name or "")))
            return groups
        except LDAPException as exc:
            raise LdapError(f"group search failed: {type(exc).__name__}") from None
        finally:
            conn.unbind()

    def search_groups(self, name: str | None = None, dn: str | None = None) -> list[LdapGroup]:
        """Groups by exact DN, or by name (``*`` wildcard allowed) under the group base DN."""
        if dn:
            if self.config.group_base_dn and not dn_under(dn, self.config.group_base_dn):
                return []
            return self._search_groups("(objectClass=*)", base=dn, scope=0)
        value = "*" if not name else escape_filter_chars(name).replace("\\2a", "*")
        return self._search_groups(f"({self.config.group_attribute_name}={value})")

    def group(self, dn: str) -> LdapGroup | None:
        found = self.search_groups(dn=dn)
        return found[0] if found else None

    def is_admin(self, user: LdapUser) -> bool:
        """Whether the user is in ``ldap_group_admin_dn`` (Harbor's LDAP admin group)."""
        admin = self.config.group_admin_dn
        return bool(admin) and any(normalize_dn(dn) == normalize_dn(admin) for dn in user.group_dns)

    def groups_to_onboard(self, user: LdapUser) -> list[LdapGroup]:
        """The user's groups under the group base DN, with their names, for membership."""
        if not self.config.group_base_dn:
            return []
        result = []
        for dn in user.group_dns:
            if not dn_under(dn, self.config.group_base_dn):
                continue
            rdn = parse_dn(dn, strip=True)[0] if dn else None
            if rdn and rdn[0].lower() == self.config.group_attribute_name.lower():
                result.append(LdapGroup(dn, rdn[1]))
            else:
                group = self.group(dn)
                if group is not None:
                    result.append(group)
        return result
