"""Push-time policy: project existence, the read-only switch, quota and tag-immutability hooks.

Project and read-only lookups are read through a short-lived per-process cache
(``policy_cache_seconds``): a new project is seen at once (absent projects are not cached),
a switch to read-only takes effect within the cache time. Quota accounting is never cached: it
happens in the transaction that links a blob to a project, under a row lock on ``quotas``.

Immutability is a hook: core's immutability rules (a later issue) register a function that is
consulted, inside the transaction, before a tag is moved to another manifest or deleted.

Read-only mode answers 403 DENIED with Harbor's message (Harbor's readonly middleware uses the
DENIED code, which it maps to 403); every write of the registry checks it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg2.extensions

from berth_registry.db import projects, read_cursor
from berth_registry.db.projects import Project, Quota
from berth_registry.names import RepositoryName
from berth_registry.services.exceptions import Denied, RepositoryUnknown

READ_ONLY_MESSAGE = "The system is in read only mode. Any modification is prohibited."


@dataclasses.dataclass(frozen=True)
class TagChange:
    """A tag about to move (``overwrite``) or disappear (``delete``), for immutability hooks."""

    project_id: int
    repository: str
    tag: str
    operation: str  # "overwrite" or "delete"
    current_digest: str
    new_digest: str | None = None


# A hook raises services.exceptions.Denied to refuse the change; it runs in the caller's transaction.
ImmutabilityHook = Callable[[psycopg2.extensions.cursor, TagChange], None]


class QuotaExceeded(Denied):
    """Storing the bytes would take the project over its storage quota."""

    def __init__(self, project: str, quota: Quota, extra: int) -> None:
        super().__init__(
            f"quota exceeded: project {project} would use {quota.used_storage + extra} bytes of {quota.hard_storage} allowed",
            detail={"project": project, "hard_storage": quota.hard_storage, "used_storage": quota.used_storage, "requested": extra},
        )


class Policy:
    """Cached project/read-only reads plus the registered immutability hooks."""

    def __init__(self, db: Any, cache_seconds: float) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.immutability_hooks: list[ImmutabilityHook] = []
        self._projects: dict[str, tuple[float, Project]] = {}
        self._read_only: tuple[float, bool] | None = None
        self._lock = threading.Lock()

    def project(self, name: str) -> Project | None:
        """The live project ``name`` (cached when found)."""
        now = time.monotonic()
        hit = self._projects.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        with read_cursor(self.db) as cur:
            project = projects.get_project(cur, name)
        if project is not None and self.cache_seconds > 0:
            with self._lock:
                self._projects[name] = (now + self.cache_seconds, project)
        return project

    def require_project(self, repository: RepositoryName) -> Project:
        """The project owning ``repository``; raises RepositoryUnknown when it does not exist."""
        project = self.project(repository.project)
        if project is None:
            raise RepositoryUnknown(f"project {repository.project} not found", detail={"name": repository.full})
        return project

    def read_only(self) -> bool:
        now = time.monotonic()
        cached = self._read_only
        if cached is not None and cached[0] > now:
            return cached[1]
        with read_cursor(self.db) as cur:
            value = projects.read_only(cur)
        self._read_only = (now + self.cache_seconds, value)
        return value

    def require_writable(self) -> None:
        """Raise Denied when the system is in read-only mode."""
        if self.read_only():
            raise Denied(READ_ONLY_MESSAGE)

    def check_tag_change(self, cur: psycopg2.extensions.cursor, change: TagChange) -> None:
        """Run every immutability hook; the first Denied refuses the change."""
        for hook in self.immutability_hooks:
            hook(cur, change)


def charge(cur: psycopg2.extensions.cursor, project: Project, quota: Quota, extra: int) -> None:
    """Account ``extra`` bytes to a project whose quota row the caller has locked."""
    if not quota.allows(extra):
        raise QuotaExceeded(project.name, quota, extra)
    if extra:
        projects.add_used_storage(cur, project.project_id, extra)
