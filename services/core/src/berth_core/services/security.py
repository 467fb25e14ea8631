"""Who is calling and what they may do: the security context of a request.

Every request gets one :class:`SecurityContext` (``current_security()``), built by the
authentication hook in :mod:`berth_core.api.auth` from Basic credentials (user, LDAP user or
robot), the UI session cookie, or nothing (anonymous). Harbor's evaluation order holds:

* system admins (``sysadmin_flag``, or the LDAP admin group) may do everything;
* robots may do exactly what their grants say (plus what anyone may do in a public project);
* users hold the best of their own and their groups' roles in each project
  (:mod:`berth_core.services.rbac`), plus the public-project permissions everywhere public.

Views guard themselves with :func:`require_project` (resolves ``{project_name_or_id}`` and checks
one permission) or :func:`ensure_project` / :func:`ensure_system`; a failed check is 401 for
anonymous callers and 403 for everyone else.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import current_app, g, request

from berth_common.db import Database
from berth_core import errors
from berth_core.db import groups as groups_db
from berth_core.db import members as members_db
from berth_core.db import projects as projects_db
from berth_core.db.projects import Project
from berth_core.db.robots import Robot
from berth_core.db.users import User
from berth_core.errors import APIError
from berth_core.services import rbac

if TYPE_CHECKING:  # auth imports configurations, which audits through this module
    from berth_core.services.auth import Principal

ANONYMOUS, BASIC, SESSION, ROBOT = "anonymous", "basic", "session", "robot"


class _PublicLookup:
    """Answers "is project N public?" once per request, from the DB unless already known."""

    def __init__(self, loader: Callable[[int], bool] | None) -> None:
        self._loader = loader
        self._known: dict[int, bool] = {}
        self._lock = threading.Lock()

    def remember(self, project_id: int, public: bool) -> None:
        with self._lock:
            self._known[project_id] = public

    def __call__(self, project_id: int) -> bool:
        with self._lock:
            if project_id in self._known:
                return self._known[project_id]
        public = self._loader(project_id) if self._loader else False
        self.remember(project_id, public)
        return public


def _db_public_loader() -> Callable[[int], bool]:
    db = current_app.extensions["berth.db"]

    def load(project_id: int) -> bool:
        with db.transaction() as cur:
            return projects_db.is_public(cur, project_id)

    return load


@dataclasses.dataclass(frozen=True)
class SecurityContext:
    """The caller of one request and what it may do. Build with the ``for_*`` constructors."""

    username: str | None = None
    user_id: int | None = None
    robot_id: int | None = None
    method: str = ANONYMOUS
    sysadmin: bool = False
    # project_id -> roles held there (own membership and groups'); users only.
    roles: Mapping[int, frozenset[int]] = dataclasses.field(default_factory=dict)
    # Robots: project_id (None = every project) -> granted (resource, action) pairs; system pairs.
    robot_project_grants: Mapping[int | None, frozenset[rbac.Permission]] = dataclasses.field(default_factory=dict)
    robot_system_grants: frozenset[rbac.Permission] = frozenset()
    session_key: bytes | None = dataclasses.field(default=None, repr=False)
    _public: _PublicLookup = dataclasses.field(default_factory=lambda: _PublicLookup(None), repr=False, compare=False)

    # --- who ----------------------------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        return self.method != ANONYMOUS

    @property
    def is_sysadmin(self) -> bool:
        return self.sysadmin

    @property
    def is_robot(self) -> bool:
        return self.method == ROBOT

    @property
    def is_user(self) -> bool:
        """A person (local or LDAP), as opposed to a robot or anonymous."""
        return self.user_id is not None and not self.is_robot

    # --- what ---------------------------------------------------------------------------------

    def remember_project(self, project: Project) -> None:
        """Tell the context a project's public flag so ``can`` need not look it up."""
        self._public.remember(project.project_id, project.public)

    def project_roles(self, project_id: int) -> list[int]:
        """Every role the caller holds in the project (own and through groups), sorted."""
        return sorted(self.roles.get(project_id, ()))

    def project_role(self, project_id: int) -> int | None:
        """The caller's most privileged role in the project, or None."""
        return rbac.best_role(self.roles.get(project_id, ()))

    def can(self, project_id: int, resource: str, action: str) -> bool:
        """May the caller do ``action`` on ``resource`` of project ``project_id``?"""
        if self.sysadmin:
            return True
        pair = (resource, action)
        if self.is_robot:
            if any(pair in self.robot_project_grants.get(key, frozenset()) for key in (project_id, None)):
                return True
        else:
            for role in self.roles.get(project_id, ()):
                if rbac.role_allows(role, resource, action):
                    return True
        return pair in rbac.PUBLIC_PERMISSIONS and self._public(project_id)

    def can_system(self, resource: str, action: str) -> bool:
        """May the caller do ``action`` on a system-level ``resource`` (users, catalog, ...)?"""
        if self.sysadmin:
            return True
        return self.is_robot and (resource, action) in self.robot_system_grants

    def permissions(self, project_id: int) -> list[rbac.Permission]:
        """Every project-level (resource, action) the caller holds in the project, sorted."""
        return sorted(pair for pair in rbac.PROJECT_PERMISSIONS if self.can(project_id, *pair))

    def system_permissions(self) -> list[rbac.Permission]:
        return sorted(pair for pair in rbac.SYSTEM_PERMISSIONS if self.can_system(*pair))

    def member_project_ids(self) -> frozenset[int] | None:
        """Projects where the caller holds a role or grant; None means every project."""
        if self.sysadmin or (self.is_robot and None in self.robot_project_grants):
            return None
        if self.is_robot:
            return frozenset(key for key in self.robot_project_grants if key is not None)
        return frozenset(self.roles)

    def visible_project_ids(self) -> frozenset[int] | None:
        """Projects the caller may see: its own plus every public one; None means all."""
        members = self.member_project_ids()
        if members is None:
            return None
        db = current_app.extensions["berth.db"]
        with db.transaction() as cur:
            public = projects_db.public_project_ids(cur)
        return members | public

    # --- constructors -------------------------------------------------------------------------

    @classmethod
    def anonymous(cls, public_loader: Callable[[int], bool] | None = None) -> SecurityContext:
        return cls(_public=_PublicLookup(public_loader))

    @classmethod
    def for_user(
        cls,
        cur,
        user: User,
        method: str,
        public_loader: Callable[[int], bool] | None = None,
        session_key: bytes | None = None,
    ) -> SecurityContext:
        group_ids = tuple(groups_db.group_ids_of_user(cur, user.user_id))
        return cls(
            username=user.username,
            user_id=user.user_id,
            method=method,
            sysadmin=user.is_sysadmin,
            roles=members_db.roles_by_project(cur, user.user_id, group_ids),
            session_key=session_key,
            _public=_PublicLookup(public_loader),
        )

    @classmethod
    def for_robot(cls, robot: Robot, full_name: str, public_loader: Callable[[int], bool] | None = None) -> SecurityContext:
        project_grants: dict[int | None, set[rbac.Permission]] = {}
        system_grants: set[rbac.Permission] = set()
        for grant in robot.grants:
            if grant.kind == "system":
                system_grants.add((grant.resource, grant.action))
            else:
                project_grants.setdefault(grant.project_id, set()).add((grant.resource, grant.action))
        return cls(
            username=full_name,
            robot_id=robot.id,
            method=ROBOT,
            robot_project_grants={key: frozenset(value) for key, value in project_grants.items()},
            robot_system_grants=frozenset(system_grants),
            _public=_PublicLookup(public_loader),
        )


def context_for(db: Database, principal: Principal, method: str, session_key: bytes | None = None) -> SecurityContext:
    """The security context of an authenticated principal (``method``: BASIC or SESSION for
    users; robots are always ROBOT)."""
    loader = public_loader()
    if principal.robot is not None:
        return SecurityContext.for_robot(principal.robot, principal.name, loader)
    assert principal.user is not None
    with db.transaction() as cur:
        return SecurityContext.for_user(cur, principal.user, method, loader, session_key=session_key)


# --- the current request -------------------------------------------------------------------------


def current_security() -> SecurityContext:
    """The security context of the current request (anonymous if authentication did not run)."""
    ctx = g.get("berth_security")
    if ctx is None:
        ctx = SecurityContext.anonymous(_db_public_loader())
        g.berth_security = ctx
    return ctx


def set_current_security(ctx: SecurityContext) -> None:
    g.berth_security = ctx


def public_loader() -> Callable[[int], bool]:
    """The DB-backed public-flag loader for contexts built during a request."""
    return _db_public_loader()


def deny(ctx: SecurityContext | None = None) -> APIError:
    """401 for anonymous callers (they may retry with credentials), 403 for everyone else.

    ``ctx`` defaults to the current request's context.
    """
    if (ctx or current_security()).is_authenticated:
        return APIError(errors.FORBIDDEN, "the caller does not have permission for this operation")
    return APIError(errors.UNAUTHORIZED, "authentication is required", headers={"WWW-Authenticate": 'Basic realm="berth"'})


def ensure_authenticated() -> SecurityContext:
    ctx = current_security()
    if not ctx.is_authenticated:
        raise deny()
    return ctx


def ensure_project(project: Project | int, resource: str, action: str) -> None:
    """Raise 401/403 unless the caller may do ``action`` on ``resource`` in the project."""
    ctx = current_security()
    if isinstance(project, Project):
        ctx.remember_project(project)
        project = project.project_id
    if not ctx.can(project, resource, action):
        raise deny()


def ensure_system(resource: str, action: str) -> None:
    """Raise 401/403 unless the caller may do ``action`` on the system-level ``resource``."""
    if not current_security().can_system(resource, action):
        raise deny()


def load_project(ref: str | int, by_name: bool | None = None) -> Project:
    """Resolve ``{project_name_or_id}`` (honouring ``X-Is-Resource-Name``); 404 if unknown.

    ``by_name=True`` treats ``ref`` as a name whatever it looks like (paths that take
    ``{project_name}`` only); None reads the header.
    """
    if by_name is None:
        by_name = request.headers.get("X-Is-Resource-Name", "").lower() == "true"
    db = current_app.extensions["berth.db"]
    with db.transaction() as cur:
        project = projects_db.get_project_by_name_or_id(cur, ref, is_name=by_name)
    if project is None:
        raise APIError(errors.NOT_FOUND, f"project {str(ref)[:255]} not found")
    current_security().remember_project(project)
    return project


def require_project(resource: str, action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator: resolve the project in the path, check one permission, pass ``project``.

    The view's route must have ``<project_name_or_id>`` (name or id, per ``X-Is-Resource-Name``)
    or ``<project_name>`` (always a name); the view receives ``project=<Project>`` instead.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if "project_name_or_id" in kwargs:
                project = load_project(kwargs.pop("project_name_or_id"))
            else:
                project = load_project(kwargs.pop("project_name"), by_name=True)
            ensure_project(project, resource, action)
            return view(*args, project=project, **kwargs)

        return wrapper

    return decorator
