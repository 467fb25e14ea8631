"""Harbor's roles and permission matrix (``src/common/rbac/project/rbac_role.go``).

A permission is a ``(resource, action)`` pair. Project-level permissions come from the caller's
role in the project (the best of its own membership and its groups'), plus the public-project
set for everyone when the project is public. System-level permissions belong to system admins
and to system robots that were granted them. This module is pure data and lookups; who holds
which role is decided in :mod:`berth_core.services.security`.
"""

from __future__ import annotations

from collections.abc import Iterable

PROJECT_ADMIN = 1
DEVELOPER = 2
GUEST = 3
MAINTAINER = 4
LIMITED_GUEST = 5

# Harbor's role table: id -> name used in JSON (``role_name``).
ROLE_NAMES = {
    PROJECT_ADMIN: "projectAdmin",
    DEVELOPER: "developer",
    GUEST: "guest",
    MAINTAINER: "maintainer",
    LIMITED_GUEST: "limitedGuest",
}
# When a user holds several roles in one project (own membership + groups) the best one counts.
ROLE_RANK = {PROJECT_ADMIN: 5, MAINTAINER: 4, DEVELOPER: 3, GUEST: 2, LIMITED_GUEST: 1}

Permission = tuple[str, str]

_LETTERS = {"C": "create", "R": "read", "U": "update", "D": "delete", "L": "list"}


def _perms(resource: str, spec: str) -> set[Permission]:
    """``_perms("member", "CRUDL pull")`` -> the pairs; letters are CRUDL, words are literal."""
    out: set[Permission] = set()
    for word in spec.split():
        if word.isupper():
            out.update((resource, _LETTERS[letter]) for letter in word)
        else:
            out.add((resource, word))
    return out


# resource -> spec per role, in the column order of harbor-features.md §2:
# (Project Admin, Maintainer, Developer, Guest, Limited Guest)
_MATRIX: dict[str, tuple[str, str, str, str, str]] = {
    "project": ("RUD", "R", "R", "R", "R"),
    "member": ("CRUDL", "RL", "RL", "RL", ""),
    "metadata": ("CRUD", "R", "", "", ""),
    "log": ("L", "", "", "", ""),
    "label": ("CRUDL", "CRUDL", "RL", "RL", ""),
    "quota": ("R", "R", "R", "R", "R"),
    "repository": ("CRUDL pull push", "CRUDL pull push", "CRUL pull push", "RL pull", "RL pull"),
    "tag-retention": ("CRUDL operate", "CRUDL operate", "CRUDL operate", "", ""),
    "immutable-tag": ("CUDL", "CUDL", "", "", ""),
    "configuration": ("RU", "R", "R", "R", "R"),
    "robot": ("CRUDL", "RL", "RL", "RL", ""),
    "notification-policy": ("CRUDL", "RL", "", "", ""),
    "scan": ("CR stop", "CR stop", "R", "R", "R"),
    "sbom": ("CR stop", "CR stop", "R", "R", "R"),
    "scanner": ("CR", "R", "R", "R", "R"),
    "artifact": ("CRDL", "CRDL", "CRL", "RL", "RL"),
    "artifact-addition": ("R", "R", "R", "R", "R"),
    "tag": ("CDL", "CDL", "CL", "L", "L"),
    "accessory": ("L", "L", "L", "L", "L"),
    "artifact-label": ("CD", "CD", "CD", "", ""),
    "preheat-policy": ("CRUDL", "", "", "", ""),
    "export-cve": ("CRL", "CRL", "CRL", "", ""),
}
_COLUMNS = (PROJECT_ADMIN, MAINTAINER, DEVELOPER, GUEST, LIMITED_GUEST)

ROLE_PERMISSIONS: dict[int, frozenset[Permission]] = {
    role: frozenset(pair for resource, specs in _MATRIX.items() for pair in _perms(resource, specs[column]))
    for column, role in enumerate(_COLUMNS)
}

# What anyone, even anonymous, may do in a public project (rbac/project/util.go).
PUBLIC_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        ("project", "read"),
        ("label", "read"),
        ("label", "list"),
        ("repository", "list"),
        ("repository", "pull"),
        ("scan", "read"),
        ("scanner", "read"),
        ("tag", "list"),
        ("accessory", "list"),
        ("artifact", "read"),
        ("artifact", "list"),
        ("artifact-addition", "read"),
    }
)

# Every project-level pair that exists (what a project robot may be granted).
PROJECT_PERMISSIONS: frozenset[Permission] = frozenset().union(*ROLE_PERMISSIONS.values())

# System-level resources (rbac/const.go, system/policies.go); sysadmins hold all of them.
SYSTEM_PERMISSIONS: frozenset[Permission] = frozenset().union(
    _perms("audit-log", "L"),
    _perms("catalog", "R"),
    _perms("project", "CL"),
    _perms("user", "CRUDL"),
    _perms("user-group", "CRUDL"),
    _perms("ldap-user", "CL"),
    _perms("registry", "CRUDL"),
    _perms("replication-policy", "CRUDL"),
    _perms("replication", "CRL"),
    _perms("replication-adapter", "L"),
    _perms("scan-all", "CRU stop"),
    _perms("system-volumes", "R"),
    _perms("garbage-collection", "CRUL stop"),
    _perms("purge-audit", "CRUL stop"),
    _perms("jobservice-monitor", "L stop"),
    _perms("scanner", "CRUDL"),
    _perms("label", "CRUD"),
    _perms("security-hub", "RL"),
    _perms("quota", "RLU"),
    _perms("preheat-instance", "CRUDL"),
    _perms("export-cve", "CR"),
    _perms("robot", "CRUDL"),
    _perms("configuration", "RU"),
)


def best_role(roles: Iterable[int]) -> int | None:
    """The most privileged of ``roles`` (None when empty)."""
    return max(roles, key=lambda role: ROLE_RANK[role], default=None)


def role_allows(role: int | None, resource: str, action: str) -> bool:
    return role is not None and (resource, action) in ROLE_PERMISSIONS.get(role, frozenset())
