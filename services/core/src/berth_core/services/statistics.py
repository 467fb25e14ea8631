"""Read-only overviews: ``/statistics``, ``/search`` and ``/systeminfo[/volumes]``, as Harbor.

Who sees what follows Harbor's handlers (``statistic.go``, ``search.go``, ``systeminfo.go``):
statistics need a login and show totals and storage only to system admins; search covers the
projects the caller may see; system info answers anyone but keeps the deployment details
(URLs, storage provider, read-only flag, time) for logged-in callers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import shutil
from typing import Any

from berth_common.db import Database
from berth_core import errors
from berth_core.api.query import FUZZY, Condition, ListParams
from berth_core.db import content as content_db
from berth_core.db import projects as projects_db
from berth_core.db.content import Repository
from berth_core.db.projects import Project
from berth_core.errors import APIError
from berth_core.services import security
from berth_core.services.security import SecurityContext
from berth_core.settings import CoreSettings

# Search answers in one response without paging (as Harbor); these bound its size.
MAX_SEARCH_PROJECTS = 100
MAX_SEARCH_REPOSITORIES = 100
MAX_SEARCH_KEYWORD = 255


@dataclasses.dataclass(frozen=True)
class Statistic:
    private_project_count: int = 0
    private_repo_count: int = 0
    public_project_count: int = 0
    public_repo_count: int = 0
    total_project_count: int = 0
    total_repo_count: int = 0
    total_storage_consumption: int = 0


def statistics(db: Database, sec: SecurityContext) -> Statistic:
    """Project and repository counts for the caller; 401 for anonymous callers."""
    if not sec.is_authenticated:
        raise security.deny()
    with db.transaction() as cur:
        public = content_db.count_projects_and_repositories(cur, public=True)
        if sec.is_sysadmin:
            total = content_db.count_projects_and_repositories(cur)
            return Statistic(
                private_project_count=total.projects - public.projects,
                private_repo_count=total.repositories - public.repositories,
                public_project_count=public.projects,
                public_repo_count=public.repositories,
                total_project_count=total.projects,
                total_repo_count=total.repositories,
                total_storage_consumption=content_db.total_storage(cur),
            )
        # Private counts cover the private projects a user is a member of (Harbor counts them
        # only for users; robots and other principals see the public figures).
        member_ids = sorted(sec.roles) if sec.is_user else []
        private = content_db.count_projects_and_repositories(cur, project_ids=member_ids, public=False)
        return Statistic(
            private_project_count=private.projects,
            private_repo_count=private.repositories,
            public_project_count=public.projects,
            public_repo_count=public.repositories,
        )


@dataclasses.dataclass(frozen=True)
class SearchResult:
    projects: list[tuple[Project, int]]  # with repository count
    repositories: list[tuple[Repository, Project]]


def search(db: Database, sec: SecurityContext, keyword: str) -> SearchResult:
    """Visible projects whose name contains ``keyword`` and visible repositories whose name does."""
    if len(keyword) > MAX_SEARCH_KEYWORD or "\x00" in keyword:
        raise APIError(errors.BAD_REQUEST, f"q must be at most {MAX_SEARCH_KEYWORD} characters without NUL")
    visible = sec.visible_project_ids()
    conditions = (Condition("name", FUZZY, (keyword,)),) if keyword else ()
    params = ListParams(conditions=conditions, page_size=MAX_SEARCH_PROJECTS)
    with db.transaction() as cur:
        # list_projects shows public projects plus ``visible_to``; members see theirs too.
        projects, _ = projects_db.list_projects(cur, params, None if visible is None else sorted(visible))
        counts = projects_db.repo_counts(cur, [p.project_id for p in projects]) if projects else {}
        repositories = content_db.search_repositories(
            cur, keyword=keyword, project_ids=None if visible is None else sorted(visible), limit=MAX_SEARCH_REPOSITORIES
        )
        owners: dict[int, Project] = {p.project_id: p for p in projects}
        for repo in repositories:
            if repo.project_id not in owners:
                found = projects_db.get_project(cur, repo.project_id)
                if found is not None:
                    owners[repo.project_id] = found
    return SearchResult(
        projects=[(p, counts.get(p.project_id, 0)) for p in projects],
        repositories=[(r, owners[r.project_id]) for r in repositories if r.project_id in owners],
    )


def system_info(settings: CoreSettings, config: dict[str, Any], sec: SecurityContext) -> dict[str, Any]:
    """Harbor's ``GeneralInfo``: public fields for anyone, deployment details once logged in."""
    info: dict[str, Any] = {
        "auth_mode": config["auth_mode"],
        "primary_auth_mode": bool(config.get("primary_auth_mode", False)),
        "self_registration": bool(config["self_registration"]),
        "harbor_version": version(),
        "banner_message": config.get("banner_message", ""),
    }
    if sec.is_authenticated:
        info.update(
            {
                "has_ca_root": False,
                "project_creation_restriction": config["project_creation_restriction"],
                "external_url": settings.external_url,
                "registry_url": registry_host(settings.external_url),
                "read_only": bool(config["read_only"]),
                "registry_storage_provider_name": settings.registry_storage_provider_name,
                "notification_enable": bool(config.get("notification_enable", True)),
                "with_notary": False,
                "with_chartmuseum": False,
                "current_time": dt.datetime.now(dt.UTC),
            }
        )
    return info


def version() -> str:
    """Berth's version in Harbor's ``vX.Y.Z`` form."""
    try:
        return "v" + importlib.metadata.version("berth-core")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree without install
        return "v0.0.0-dev"


def registry_host(external_url: str) -> str:
    """What ``docker login`` / ``docker push`` take: the external URL without its scheme."""
    host = external_url.split("://", 1)[-1]
    return host.rstrip("/")


@dataclasses.dataclass(frozen=True)
class Volume:
    total: int
    free: int


def volumes(settings: CoreSettings, sec: SecurityContext) -> list[Volume]:
    """Size and free space of the configured storage volume; system admins only (as Harbor)."""
    if not sec.can_system("system-volumes", "read"):
        raise security.deny()
    if not settings.storage_volume_path:
        raise APIError(errors.NOT_FOUND, "no local storage volume is configured (storage_volume_path)")
    try:
        usage = shutil.disk_usage(settings.storage_volume_path)
    except OSError as exc:
        raise APIError(errors.NOT_FOUND, f"storage volume is not readable: {exc.strerror or type(exc).__name__}") from None
    return [Volume(total=usage.total, free=usage.free)]
