"""Listings: a repository's tags and the catalog of repositories, paginated with ``n``/``last``."""

from __future__ import annotations

import dataclasses
from typing import Any

from berth_registry.db import read_cursor, repositories, tags
from berth_registry.names import RepositoryName
from berth_registry.services.exceptions import PaginationInvalid, RepositoryUnknown

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of names; ``next_last`` is the ``last`` for the next page, None at the end."""

    names: list[str]
    limit: int
    next_last: str | None


def page_size(raw: str | None) -> int:
    """The ``n`` parameter: absent means a default page; raises PaginationInvalid when unusable."""
    if raw is None or raw == "":
        return DEFAULT_PAGE
    try:
        value = int(raw)
    except ValueError:
        raise PaginationInvalid(f"n must be an integer, got {raw!r}") from None
    if value < 0:
        raise PaginationInvalid("n must not be negative")
    return min(value, MAX_PAGE)


def _page(found: list[str], limit: int) -> Page:
    # One row more than asked tells whether another page exists.
    if len(found) > limit:
        return Page(found[:limit], limit, found[limit - 1] if limit else None)
    return Page(found, limit, None)


class RepositoryService:
    def __init__(self, db: Any) -> None:
        self.db = db

    def tags(self, repository: RepositoryName, n: str | None, last: str | None) -> Page:
        """Tags in byte order after ``last``; raises RepositoryUnknown."""
        limit = page_size(n)
        with read_cursor(self.db) as cur:
            repo = repositories.get(cur, repository.full)
            if repo is None:
                raise RepositoryUnknown(detail={"name": repository.full})
            found = tags.list_names(cur, repo.repository_id, last or "", limit + 1) if limit else []
        return _page(found, limit)

    def catalog(self, n: str | None, last: str | None) -> Page:
        """Repository names in byte order after ``last``."""
        limit = page_size(n)
        if not limit:
            return Page([], 0, None)
        with read_cursor(self.db) as cur:
            found = repositories.list_names(cur, last or "", limit + 1)
        return _page(found, limit)
