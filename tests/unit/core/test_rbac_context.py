"""The security context's decisions without a database: roles, groups, public projects,
robots and system admins."""

from __future__ import annotations

from berth_core.db.robots import Grant, Robot
from berth_core.services import rbac
from berth_core.services.security import SecurityContext

PUBLIC_ID, PRIVATE_ID, OTHER_ID = 1, 2, 3


def public(project_id: int) -> bool:
    return project_id == PUBLIC_ID


def user(roles: dict[int, set[int]], sysadmin: bool = False) -> SecurityContext:
    ctx = SecurityContext(
        username="u", user_id=10, method="basic", sysadmin=sysadmin, roles={k: frozenset(v) for k, v in roles.items()}
    )
    return SecurityContext(**{**ctx.__dict__, "_public": type(ctx._public)(public)})


def robot(*grants: Grant) -> SecurityContext:
    row = Robot(1, "p+r", "", "project", PRIVATE_ID, "hash", -1, -1, False, "local", 1, None, None, grants)
    return SecurityContext.for_robot(row, "robot$p+r", public)


def test_roles_follow_the_matrix() -> None:
    ctx = user({PRIVATE_ID: {rbac.DEVELOPER}})
    assert ctx.can(PRIVATE_ID, "repository", "push")
    assert not ctx.can(PRIVATE_ID, "repository", "delete")
    assert not ctx.can(PRIVATE_ID, "member", "create")
    assert not ctx.can(OTHER_ID, "repository", "pull")
    assert ctx.project_role(PRIVATE_ID) == rbac.DEVELOPER and ctx.project_role(OTHER_ID) is None


def test_best_of_own_and_group_roles() -> None:
    ctx = user({PRIVATE_ID: {rbac.GUEST, rbac.MAINTAINER}})
    assert ctx.project_role(PRIVATE_ID) == rbac.MAINTAINER
    assert ctx.project_roles(PRIVATE_ID) == [rbac.GUEST, rbac.MAINTAINER]
    assert ctx.can(PRIVATE_ID, "artifact", "delete")


def test_public_projects_for_outsiders_and_anonymous() -> None:
    for ctx in (user({}), SecurityContext.anonymous(public)):
        assert ctx.can(PUBLIC_ID, "repository", "pull")
        assert ctx.can(PUBLIC_ID, "artifact", "read")
        assert not ctx.can(PUBLIC_ID, "repository", "push")
        assert not ctx.can(PUBLIC_ID, "member", "list")
        assert not ctx.can(PRIVATE_ID, "repository", "pull")
    assert not SecurityContext.anonymous(public).is_authenticated


def test_sysadmin_can_everything() -> None:
    ctx = user({}, sysadmin=True)
    assert ctx.can(OTHER_ID, "project", "delete") and ctx.can_system("user", "create")
    assert ctx.member_project_ids() is None
    assert not user({}).can_system("user", "create")


def test_robots_hold_exactly_their_grants() -> None:
    ctx = robot(Grant("project", "p", PRIVATE_ID, "repository", "pull"), Grant("system", "/", None, "catalog", "read"))
    assert ctx.is_robot and ctx.username == "robot$p+r"
    assert ctx.can(PRIVATE_ID, "repository", "pull")
    assert not ctx.can(PRIVATE_ID, "repository", "push")
    assert not ctx.can(OTHER_ID, "repository", "pull")
    assert ctx.can(PUBLIC_ID, "repository", "pull")  # public rules hold for robots too
    assert ctx.can_system("catalog", "read") and not ctx.can_system("user", "list")
    assert ctx.member_project_ids() == frozenset({PRIVATE_ID})
    everywhere = robot(Grant("project", "*", None, "repository", "push"))
    assert everywhere.can(OTHER_ID, "repository", "push") and everywhere.member_project_ids() is None


def test_matrix_shape() -> None:
    assert set(rbac.ROLE_PERMISSIONS) == set(rbac.ROLE_NAMES)
    ranks = sorted(rbac.ROLE_NAMES, key=rbac.ROLE_RANK.get)
    # Limited Guest < Guest < Developer < Maintainer < Project Admin: each holds all the lower one does.
    for lower, higher in zip(ranks, ranks[1:], strict=False):
        assert rbac.ROLE_PERMISSIONS[lower] <= rbac.ROLE_PERMISSIONS[higher]
    # Outsiders of a public project get a Limited Guest's reads plus the project labels.
    limited_plus_labels = rbac.ROLE_PERMISSIONS[rbac.LIMITED_GUEST] | {("label", "read"), ("label", "list")}
    assert limited_plus_labels >= rbac.PUBLIC_PERMISSIONS
    assert rbac.best_role([]) is None
