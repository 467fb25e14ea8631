"""SQL of registry content as core sees it: repositories, artifacts, tags, references, blobs.

The registry service writes these tables on push (0001_initial.sql); core reads them for the
REST API and changes them for API deletes, tag creation and artifact copies. Repository names
are full names (``project/name``), as in Harbor. Listing functions take the parsed
:class:`~berth_core.api.query.ListParams` of a request, whose keys the API layer already checked
against its whitelist, and compile them with :mod:`berth_core.db.listing` against the column
maps below, so no request text ever becomes SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from psycopg2 import sql
from psycopg2.extras import Json

from berth_core.api.query import ALL, EXACT, FUZZY, Condition, ListParams, SortKey
from berth_core.db import listing
from berth_core.db.projects import PUBLIC_SQL

# --------------------------------------------------------------------------------------------
# Row types


@dataclasses.dataclass(frozen=True)
class Repository:
    id: int
    project_id: int
    name: str
    description: str
    pull_count: int
    artifact_count: int
    creation_time: dt.datetime
    update_time: dt.datetime


@dataclasses.dataclass(frozen=True)
class Artifact:
    id: int
    project_id: int
    repository_id: int
    repository_name: str
    digest: str
    type: str
    media_type: str
    manifest_media_type: str
    artifact_type: str
    size: int
    subject_digest: str | None
    extra_attrs: dict
    annotations: dict
    push_time: dt.datetime
    pull_time: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Tag:
    id: int
    repository_id: int
    artifact_id: int
    name: str
    push_time: dt.datetime
    pull_time: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Reference:
    parent_id: int
    child_id: int
    child_digest: str
    platform: dict | None
    annotations: dict
    urls: list


@dataclasses.dataclass(frozen=True)
class Blob:
    id: int
    digest: str
    content_type: str
    size: int


# --------------------------------------------------------------------------------------------
# Column maps: the ``q``/``sort`` keys each list accepts (checked by the API layer's whitelist)
# and the SQL expression behind each. Default orders are Harbor's.

REPOSITORY_COLUMNS = {
    "id": sql.SQL("r.repository_id"),
    "name": sql.SQL("r.name"),
    "project_id": sql.SQL("r.project_id"),
    "pull_count": sql.SQL("r.pull_count"),
    "creation_time": sql.SQL("r.creation_time"),
    "update_time": sql.SQL("r.update_time"),
}
REPOSITORY_DEFAULT_SORT = (SortKey("creation_time", True),)
_REPOSITORY_TIEBREAK = sql.SQL("r.repository_id DESC")

ARTIFACT_COLUMNS = {
    "id": sql.SQL("a.artifact_id"),
    "digest": sql.SQL("a.digest"),
    "type": sql.SQL("a.type"),
    "media_type": sql.SQL("a.media_type"),
    "manifest_media_type": sql.SQL("a.manifest_media_type"),
    "artifact_type": sql.SQL("a.artifact_type"),
    "size": sql.SQL("a.size"),
    "push_time": sql.SQL("a.push_time"),
    "pull_time": sql.SQL("a.pull_time"),
    "repository_name": sql.SQL("a.repository_name"),
}
ARTIFACT_DEFAULT_SORT = (SortKey("push_time", True),)
_ARTIFACT_TIEBREAK = sql.SQL("a.artifact_id DESC")

TAG_COLUMNS = {
    "id": sql.SQL("t.tag_id"),
    "name": sql.SQL("t.name"),
    "push_time": sql.SQL("t.push_time"),
    "pull_time": sql.SQL("t.pull_time"),
}
TAG_DEFAULT_SORT = (SortKey("push_time", True),)
_TAG_TIEBREAK = sql.SQL("t.tag_id DESC")

# Harbor's accessory types, derived from the accessory's artifact type; anything else that names
# a subject is a generic referrer ("subject.accessory").
ACCESSORY_TYPES = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature.cosign",
    "application/vnd.cncf.notary.signature": "signature.notation",
    "application/vnd.goharbor.harbor.sbom.v1": "harbor.sbom",
    "application/vnd.cncf.nydus.accelerator.v1": "acceleration.nydus",
}
GENERIC_ACCESSORY_TYPE = "subject.accessory"
_ACCESSORY_TYPE_SQL = sql.SQL("CASE a.artifact_type {} ELSE {} END").format(
    sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(v)) for k, v in ACCESSORY_TYPES.items()),
    sql.Literal(GENERIC_ACCESSORY_TYPE),
)


def accessory_type(artifact_type: str) -> str:
    """Harbor's accessory type name for an accessory with this artifact type."""
    return ACCESSORY_TYPES.get(artifact_type, GENERIC_ACCESSORY_TYPE)


ACCESSORY_COLUMNS = {
    "id": sql.SQL("a.artifact_id"),
    "digest": sql.SQL("a.digest"),
    "type": _ACCESSORY_TYPE_SQL,
    "size": sql.SQL("a.size"),
    "creation_time": sql.SQL("a.push_time"),
}
ACCESSORY_DEFAULT_SORT = (SortKey("creation_time", True),)

_ARTIFACT_SELECT = sql.SQL(
    "a.artifact_id, a.project_id, a.repository_id, a.repository_name, a.digest, a.type, a.media_type,"
    " a.manifest_media_type, a.artifact_type, a.size, a.subject_digest, a.extra_attrs, a.annotations,"
    " a.push_time, a.pull_time"
)
_TAG_SELECT = sql.SQL("t.tag_id, t.repository_id, t.artifact_id, t.name, t.push_time, t.pull_time")

# An artifact is listed unless it is a child of an index without tags of its own, or an
# accessory (it has a subject): those show inside their parent / subject instead (Harbor).
_LISTED = sql.SQL(
    "(a.subject_digest IS NULL AND (EXISTS (SELECT 1 FROM tags lt WHERE lt.artifact_id = a.artifact_id)"
    " OR NOT EXISTS (SELECT 1 FROM artifact_references lr WHERE lr.child_id = a.artifact_id)))"
)
_REPOSITORY_SELECT = sql.SQL(
    "r.repository_id, r.project_id, r.name, r.description, r.pull_count,"
    " (SELECT count(*) FROM artifacts a WHERE a.repository_id = r.repository_id AND {}),"
    " r.creation_time, r.update_time"
).format(_LISTED)


def _and(*parts: sql.Composable) -> sql.Composable:
    return sql.SQL(" AND ").join(parts)


# --------------------------------------------------------------------------------------------
# Repositories


def _repository(row: tuple) -> Repository:
    return Repository(*row)


def get_repository(cur, name: str) -> Repository | None:
    """The repository with this full name (``project/repo``), or None."""
    cur.execute(sql.SQL("SELECT {} FROM repositories r WHERE r.name = %(name)s").format(_REPOSITORY_SELECT), {"name": name})
    row = cur.fetchone()
    return _repository(row) if row else None


def _repository_where(project_ids: Sequence[int] | None, conditions: Sequence[Condition]) -> tuple[sql.Composable, dict]:
    where, params = listing.where(conditions, REPOSITORY_COLUMNS)
    if project_ids is not None:
        where = _and(where, sql.SQL("r.project_id = ANY(%(project_ids)s)"))
        params["project_ids"] = list(project_ids)
    return where, params


def count_repositories(cur, *, project_ids: Sequence[int] | None, conditions: Sequence[Condition] = ()) -> int:
    """How many repositories match; ``project_ids`` None means every project."""
    where, params = _repository_where(project_ids, conditions)
    cur.execute(sql.SQL("SELECT count(*) FROM repositories r WHERE {}").format(where), params)
    return cur.fetchone()[0]


def list_repositories(cur, *, project_ids: Sequence[int] | None, params: ListParams) -> list[Repository]:
    """One page of repositories, with their artifact counts."""
    where, values = _repository_where(project_ids, params.conditions)
    page, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT {} FROM repositories r WHERE {} ORDER BY {} {}").format(
            _REPOSITORY_SELECT,
            where,
            listing.order_by(params.sort, REPOSITORY_COLUMNS, REPOSITORY_DEFAULT_SORT, _REPOSITORY_TIEBREAK),
            page,
        ),
        {**values, **page_values},
    )
    return [_repository(row) for row in cur.fetchall()]


def search_repositories(cur, *, keyword: str, project_ids: Sequence[int] | None, limit: int) -> list[Repository]:
    """Repositories whose name contains ``keyword`` (any case), in the given projects, by name."""
    where, params = _repository_where(project_ids, [Condition("name", FUZZY, (keyword,))])
    cur.execute(
        sql.SQL("SELECT {} FROM repositories r WHERE {} ORDER BY r.name LIMIT %(limit)s").format(_REPOSITORY_SELECT, where),
        {**params, "limit": limit},
    )
    return [_repository(row) for row in cur.fetchall()]


def insert_repository(cur, *, project_id: int, name: str) -> Repository:
    """Create the repository unless it exists and return it (what the registry does on push)."""
    cur.execute(
        "INSERT INTO repositories (project_id, name) VALUES (%(project_id)s, %(name)s) ON CONFLICT (name) DO NOTHING",
        {"project_id": project_id, "name": name},
    )
    repository = get_repository(cur, name)
    if repository is None:  # pragma: no cover - inserted above or already there
        raise LookupError(name)
    return repository


def update_repository_description(cur, repository_id: int, description: str) -> None:
    cur.execute(
        "UPDATE repositories SET description = %(description)s, update_time = now() WHERE repository_id = %(id)s",
        {"description": description, "id": repository_id},
    )


def lock_repository(cur, repository_id: int) -> bool:
    """Lock the repository row until the transaction ends; False if it is gone."""
    cur.execute("SELECT 1 FROM repositories WHERE repository_id = %(id)s FOR UPDATE", {"id": repository_id})
    return cur.fetchone() is not None


def delete_repository(cur, repository_id: int) -> None:
    """Delete the repository with its artifacts, tags, blob links and index references.

    The references go first: a child artifact may not disappear while a reference names it,
    and the cascade from the repository row does not order parents before children.
    """
    cur.execute(
        """
        DELETE FROM artifact_references
        WHERE parent_id IN (SELECT artifact_id FROM artifacts WHERE repository_id = %(id)s)
        """,
        {"id": repository_id},
    )
    cur.execute("DELETE FROM repositories WHERE repository_id = %(id)s", {"id": repository_id})


def touch_repository(cur, repository_id: int) -> None:
    cur.execute("UPDATE repositories SET update_time = now() WHERE repository_id = %(id)s", {"id": repository_id})


# --------------------------------------------------------------------------------------------
# Artifacts


def _artifact(row: tuple) -> Artifact:
    return Artifact(*row)


def get_artifact(cur, artifact_id: int) -> Artifact | None:
    cur.execute(sql.SQL("SELECT {} FROM artifacts a WHERE a.artifact_id = %(id)s").format(_ARTIFACT_SELECT), {"id": artifact_id})
    row = cur.fetchone()
    return _artifact(row) if row else None


def get_artifact_by_digest(cur, repository_id: int, digest: str) -> Artifact | None:
    cur.execute(
        sql.SQL("SELECT {} FROM artifacts a WHERE a.repository_id = %(repo)s AND a.digest = %(digest)s").format(_ARTIFACT_SELECT),
        {"repo": repository_id, "digest": digest},
    )
    row = cur.fetchone()
    return _artifact(row) if row else None


def get_artifact_by_tag(cur, repository_id: int, tag: str) -> Artifact | None:
    cur.execute(
        sql.SQL(
            "SELECT {} FROM tags t JOIN artifacts a ON a.artifact_id = t.artifact_id WHERE t.repository_id = %(repo)s AND t.name = %(tag)s"
        ).format(_ARTIFACT_SELECT),
        {"repo": repository_id, "tag": tag},
    )
    row = cur.fetchone()
    return _artifact(row) if row else None


def _tags_predicate(tags: Condition | None) -> tuple[sql.Composable, dict]:
    """Harbor's ``tags`` key: ``*`` tagged, ``nil`` untagged, ``v`` exact, ``~v`` substring."""
    exists = "EXISTS (SELECT 1 FROM tags ft WHERE ft.artifact_id = a.artifact_id{})"
    if tags is None:
        return sql.SQL("TRUE"), {}
    if tags.op == EXACT and tags.values[0] == "*":
        return sql.SQL(exists.format("")), {}
    if tags.op == EXACT and tags.values[0] == "nil":
        return sql.SQL("NOT " + exists.format("")), {}
    if tags.op == ALL:
        # "Has all of these tags": one EXISTS per name, since each tag row holds one name.
        parts = [sql.SQL(exists.format(f" AND ft.name = %(tags_all{i})s")) for i in range(len(tags.values))]
        return _and(*parts), {f"tags_all{i}": value for i, value in enumerate(tags.values)}
    inner, params = listing.where([tags], {"tags": sql.SQL("ft.name")}, prefix="tags")
    return sql.SQL(exists.format(" AND {}")).format(inner), params


def _artifact_where(
    repository_id: int | None,
    project_id: int | None,
    conditions: Sequence[Condition],
    tags: Condition | None,
    latest_in_repository: bool,
) -> tuple[sql.Composable, dict]:
    where, params = listing.where(conditions, ARTIFACT_COLUMNS)
    tag_where, tag_params = _tags_predicate(tags)
    parts = [_LISTED, where, tag_where]
    if repository_id is not None:
        parts.append(sql.SQL("a.repository_id = %(scope_repository)s"))
        params["scope_repository"] = repository_id
    if project_id is not None:
        parts.append(sql.SQL("a.project_id = %(scope_project)s"))
        params["scope_project"] = project_id
    condition = _and(*parts)
    if latest_in_repository:
        # Only the newest matching artifact of each repository (same parameters, inner scope).
        condition = sql.SQL(
            "a.artifact_id IN (SELECT DISTINCT ON (a.repository_id) a.artifact_id FROM artifacts a WHERE {}"
            " ORDER BY a.repository_id, a.push_time DESC, a.artifact_id DESC)"
        ).format(condition)
    return condition, {**params, **tag_params}


def count_artifacts(
    cur,
    *,
    repository_id: int | None = None,
    project_id: int | None = None,
    conditions: Sequence[Condition] = (),
    tags: Condition | None = None,
    latest_in_repository: bool = False,
) -> int:
    """How many listed artifacts of a repository or a project match (see _LISTED)."""
    where, params = _artifact_where(repository_id, project_id, conditions, tags, latest_in_repository)
    cur.execute(sql.SQL("SELECT count(*) FROM artifacts a WHERE {}").format(where), params)
    return cur.fetchone()[0]


def list_artifacts(
    cur,
    *,
    params: ListParams,
    repository_id: int | None = None,
    project_id: int | None = None,
    tags: Condition | None = None,
    latest_in_repository: bool = False,
) -> list[Artifact]:
    """One page of listed artifacts of a repository or a whole project.

    ``tags`` is Harbor's special key (``*``, ``nil``, a name, ``~part``); with
    ``latest_in_repository`` only the newest match of each repository is kept.
    """
    where, values = _artifact_where(repository_id, project_id, params.conditions, tags, latest_in_repository)
    page, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT {} FROM artifacts a WHERE {} ORDER BY {} {}").format(
            _ARTIFACT_SELECT, where, listing.order_by(params.sort, ARTIFACT_COLUMNS, ARTIFACT_DEFAULT_SORT, _ARTIFACT_TIEBREAK), page
        ),
        {**values, **page_values},
    )
    return [_artifact(row) for row in cur.fetchall()]


def list_repository_artifacts(cur, repository_id: int) -> list[Artifact]:
    """Every artifact of a repository, listed or not (children and accessories too)."""
    cur.execute(
        sql.SQL("SELECT {} FROM artifacts a WHERE a.repository_id = %(repo)s ORDER BY a.artifact_id").format(_ARTIFACT_SELECT),
        {"repo": repository_id},
    )
    return [_artifact(row) for row in cur.fetchall()]


def insert_artifact(
    cur,
    *,
    project_id: int,
    repository_id: int,
    repository_name: str,
    digest: str,
    manifest_media_type: str,
    media_type: str = "",
    artifact_type: str = "",
    type: str = "IMAGE",
    size: int = 0,
    subject_digest: str | None = None,
    extra_attrs: dict | None = None,
    annotations: dict | None = None,
    push_time: dt.datetime | None = None,
) -> Artifact:
    """Insert an artifact row and return it; raises psycopg2's UniqueViolation if it exists."""
    cur.execute(
        sql.SQL(
            """
            INSERT INTO artifacts AS a (project_id, repository_id, repository_name, digest, type, media_type,
                                        manifest_media_type, artifact_type, size, subject_digest, extra_attrs,
                                        annotations, push_time)
            VALUES (%(project_id)s, %(repository_id)s, %(repository_name)s, %(digest)s, %(type)s, %(media_type)s,
                    %(manifest_media_type)s, %(artifact_type)s, %(size)s, %(subject_digest)s, %(extra_attrs)s,
                    %(annotations)s, coalesce(%(push_time)s, now()))
            RETURNING {}
            """
        ).format(_ARTIFACT_SELECT),
        {
            "project_id": project_id,
            "repository_id": repository_id,
            "repository_name": repository_name,
            "digest": digest,
            "type": type,
            "media_type": media_type,
            "manifest_media_type": manifest_media_type,
            "artifact_type": artifact_type,
            "size": size,
            "subject_digest": subject_digest,
            "extra_attrs": Json(extra_attrs or {}),
            "annotations": Json(annotations or {}),
            "push_time": push_time,
        },
    )
    return _artifact(cur.fetchone())


def lock_artifact(cur, artifact_id: int) -> bool:
    """Lock the artifact row until the transaction ends; False if it is gone."""
    cur.execute("SELECT 1 FROM artifacts WHERE artifact_id = %(id)s FOR UPDATE", {"id": artifact_id})
    return cur.fetchone() is not None


def delete_artifact(cur, artifact_id: int) -> None:
    """Delete one artifact row; its tags, blob links and child references go with it (cascade)."""
    cur.execute("DELETE FROM artifacts WHERE artifact_id = %(id)s", {"id": artifact_id})


def parent_ids(cur, artifact_id: int) -> list[int]:
    """The indexes that reference this artifact as a child."""
    cur.execute("SELECT parent_id FROM artifact_references WHERE child_id = %(id)s ORDER BY parent_id", {"id": artifact_id})
    return [row[0] for row in cur.fetchall()]


def references_of(cur, artifact_ids: Sequence[int]) -> dict[int, list[Reference]]:
    """Children of each of these artifacts (indexes), keyed by parent id."""
    out: dict[int, list[Reference]] = {i: [] for i in artifact_ids}
    if not artifact_ids:
        return out
    cur.execute(
        """
        SELECT parent_id, child_id, child_digest, platform, annotations, urls
        FROM artifact_references WHERE parent_id = ANY(%(ids)s) ORDER BY parent_id, child_digest
        """,
        {"ids": list(artifact_ids)},
    )
    for row in cur.fetchall():
        out[row[0]].append(Reference(*row))
    return out


def insert_reference(
    cur,
    *,
    parent_id: int,
    child_id: int,
    child_digest: str,
    platform: dict | None = None,
    annotations: dict | None = None,
    urls: list | None = None,
) -> None:
    cur.execute(
        """
        INSERT INTO artifact_references (parent_id, child_id, child_digest, platform, annotations, urls)
        VALUES (%(parent)s, %(child)s, %(digest)s, %(platform)s, %(annotations)s, %(urls)s)
        """,
        {
            "parent": parent_id,
            "child": child_id,
            "digest": child_digest,
            "platform": Json(platform) if platform is not None else None,
            "annotations": Json(annotations or {}),
            "urls": Json(urls or []),
        },
    )


def accessories_of(cur, repository_id: int, digests: Sequence[str]) -> dict[str, list[Artifact]]:
    """Artifacts of the repository whose subject is one of ``digests`` (referrers), keyed by subject."""
    out: dict[str, list[Artifact]] = {d: [] for d in digests}
    if not digests:
        return out
    cur.execute(
        sql.SQL(
            "SELECT {} FROM artifacts a WHERE a.repository_id = %(repo)s AND a.subject_digest = ANY(%(digests)s)"
            " ORDER BY a.push_time DESC, a.artifact_id DESC"
        ).format(_ARTIFACT_SELECT),
        {"repo": repository_id, "digests": list(digests)},
    )
    for row in cur.fetchall():
        art = _artifact(row)
        out[art.subject_digest].append(art)
    return out


def _accessory_where(repository_id: int, subject_digest: str, conditions: Sequence[Condition]) -> tuple[sql.Composable, dict]:
    where, params = listing.where(conditions, ACCESSORY_COLUMNS)
    params.update(subject_repo=repository_id, subject_digest=subject_digest)
    return _and(sql.SQL("a.repository_id = %(subject_repo)s AND a.subject_digest = %(subject_digest)s"), where), params


def count_accessories(cur, *, repository_id: int, subject_digest: str, conditions: Sequence[Condition] = ()) -> int:
    where, params = _accessory_where(repository_id, subject_digest, conditions)
    cur.execute(sql.SQL("SELECT count(*) FROM artifacts a WHERE {}").format(where), params)
    return cur.fetchone()[0]


def list_accessories(cur, *, repository_id: int, subject_digest: str, params: ListParams) -> list[Artifact]:
    """One page of the artifacts whose subject is ``subject_digest`` in this repository."""
    where, values = _accessory_where(repository_id, subject_digest, params.conditions)
    page, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT {} FROM artifacts a WHERE {} ORDER BY {} {}").format(
            _ARTIFACT_SELECT, where, listing.order_by(params.sort, ACCESSORY_COLUMNS, ACCESSORY_DEFAULT_SORT, _ARTIFACT_TIEBREAK), page
        ),
        {**values, **page_values},
    )
    return [_artifact(row) for row in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# Tags


def _tag(row: tuple) -> Tag:
    return Tag(*row)


def tags_of(cur, artifact_ids: Sequence[int]) -> dict[int, list[Tag]]:
    """Tags of each of these artifacts, newest first, keyed by artifact id."""
    out: dict[int, list[Tag]] = {i: [] for i in artifact_ids}
    if not artifact_ids:
        return out
    cur.execute(
        sql.SQL("SELECT {} FROM tags t WHERE t.artifact_id = ANY(%(ids)s) ORDER BY t.push_time DESC, t.tag_id DESC").format(_TAG_SELECT),
        {"ids": list(artifact_ids)},
    )
    for row in cur.fetchall():
        tag = _tag(row)
        out[tag.artifact_id].append(tag)
    return out


def get_tag(cur, repository_id: int, name: str) -> Tag | None:
    cur.execute(
        sql.SQL("SELECT {} FROM tags t WHERE t.repository_id = %(repo)s AND t.name = %(name)s").format(_TAG_SELECT),
        {"repo": repository_id, "name": name},
    )
    row = cur.fetchone()
    return _tag(row) if row else None


def count_tags(cur, *, artifact_id: int, conditions: Sequence[Condition] = ()) -> int:
    where, params = listing.where(conditions, TAG_COLUMNS)
    cur.execute(
        sql.SQL("SELECT count(*) FROM tags t WHERE t.artifact_id = %(artifact)s AND {}").format(where),
        {**params, "artifact": artifact_id},
    )
    return cur.fetchone()[0]


def list_tags(cur, *, artifact_id: int, params: ListParams) -> list[Tag]:
    """One page of the tags of an artifact."""
    where, values = listing.where(params.conditions, TAG_COLUMNS)
    page, page_values = listing.limit_offset(params)
    cur.execute(
        sql.SQL("SELECT {} FROM tags t WHERE t.artifact_id = %(artifact)s AND {} ORDER BY {} {}").format(
            _TAG_SELECT, where, listing.order_by(params.sort, TAG_COLUMNS, TAG_DEFAULT_SORT, _TAG_TIEBREAK), page
        ),
        {**values, **page_values, "artifact": artifact_id},
    )
    return [_tag(row) for row in cur.fetchall()]


def insert_tag(cur, *, repository_id: int, artifact_id: int, name: str, push_time: dt.datetime | None = None) -> Tag | None:
    """Create the tag; None if the repository already has a tag of that name."""
    cur.execute(
        sql.SQL(
            """
            INSERT INTO tags AS t (repository_id, artifact_id, name, push_time)
            VALUES (%(repo)s, %(artifact)s, %(name)s, coalesce(%(push_time)s, now()))
            ON CONFLICT (repository_id, name) DO NOTHING
            RETURNING {}
            """
        ).format(_TAG_SELECT),
        {"repo": repository_id, "artifact": artifact_id, "name": name, "push_time": push_time},
    )
    row = cur.fetchone()
    return _tag(row) if row else None


def point_tag(cur, *, repository_id: int, artifact_id: int, name: str) -> None:
    """Create the tag or move it to ``artifact_id`` (what a push of that tag does)."""
    cur.execute(
        """
        INSERT INTO tags (repository_id, artifact_id, name) VALUES (%(repo)s, %(artifact)s, %(name)s)
        ON CONFLICT (repository_id, name) DO UPDATE SET artifact_id = EXCLUDED.artifact_id, push_time = now()
        """,
        {"repo": repository_id, "artifact": artifact_id, "name": name},
    )


def delete_tag(cur, tag_id: int) -> bool:
    """Delete one tag; False if it was already gone."""
    cur.execute("DELETE FROM tags WHERE tag_id = %(id)s", {"id": tag_id})
    return cur.rowcount == 1


# --------------------------------------------------------------------------------------------
# Blobs and their links to artifacts and projects


def get_blob(cur, digest: str) -> Blob | None:
    cur.execute("SELECT blob_id, digest, content_type, size FROM blobs WHERE digest = %(digest)s", {"digest": digest})
    row = cur.fetchone()
    return Blob(*row) if row else None


def insert_blob(cur, *, digest: str, size: int, content_type: str = "") -> Blob:
    """Record a blob (idempotent on digest) and return it."""
    cur.execute(
        """
        INSERT INTO blobs (digest, content_type, size) VALUES (%(digest)s, %(content_type)s, %(size)s)
        ON CONFLICT (digest) DO NOTHING
        """,
        {"digest": digest, "content_type": content_type, "size": size},
    )
    blob = get_blob(cur, digest)
    assert blob is not None
    return blob


def blob_ids_of_artifact(cur, artifact_id: int) -> list[int]:
    cur.execute("SELECT blob_id FROM artifact_blobs WHERE artifact_id = %(id)s ORDER BY blob_id", {"id": artifact_id})
    return [row[0] for row in cur.fetchall()]


def blob_ids_of_repository(cur, repository_id: int) -> list[int]:
    """Every blob some artifact of the repository needs."""
    cur.execute(
        """
        SELECT DISTINCT ab.blob_id FROM artifact_blobs ab JOIN artifacts a ON a.artifact_id = ab.artifact_id
        WHERE a.repository_id = %(repo)s ORDER BY ab.blob_id
        """,
        {"repo": repository_id},
    )
    return [row[0] for row in cur.fetchall()]


def link_artifact_blobs(cur, artifact_id: int, blob_ids: Iterable[int]) -> None:
    ids = list(blob_ids)
    if ids:
        cur.execute(
            """
            INSERT INTO artifact_blobs (artifact_id, blob_id) SELECT %(artifact)s, unnest(%(ids)s::bigint[])
            ON CONFLICT DO NOTHING
            """,
            {"artifact": artifact_id, "ids": ids},
        )


def link_project_blobs(cur, project_id: int, blob_ids: Iterable[int]) -> None:
    ids = list(blob_ids)
    if ids:
        cur.execute(
            """
            INSERT INTO project_blobs (project_id, blob_id) SELECT %(project)s, unnest(%(ids)s::bigint[])
            ON CONFLICT DO NOTHING
            """,
            {"project": project_id, "ids": ids},
        )


def unlink_unused_project_blobs(cur, project_id: int, blob_ids: Iterable[int]) -> int:
    """Drop the project's links to those of ``blob_ids`` no artifact of the project still needs.

    The blobs themselves stay for garbage collection; only the quota accounting changes.
    Returns how many links were removed.
    """
    ids = list(blob_ids)
    if not ids:
        return 0
    cur.execute(
        """
        DELETE FROM project_blobs pb
        WHERE pb.project_id = %(project)s AND pb.blob_id = ANY(%(ids)s)
          AND NOT EXISTS (SELECT 1 FROM artifact_blobs ab JOIN artifacts a ON a.artifact_id = ab.artifact_id
                          WHERE ab.blob_id = pb.blob_id AND a.project_id = %(project)s)
        """,
        {"project": project_id, "ids": ids},
    )
    return cur.rowcount


def lock_quota(cur, project_id: int) -> tuple[int, int] | None:
    """Lock the project's quota row; returns (hard, used) bytes, or None without a quota row."""
    cur.execute("SELECT hard_storage, used_storage FROM quotas WHERE project_id = %(id)s FOR UPDATE", {"id": project_id})
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def refresh_quota_usage(cur, project_id: int) -> int:
    """Recompute the project's used storage from its blob links (each blob counted once); returns it."""
    cur.execute(
        """
        UPDATE quotas SET used_storage = (SELECT coalesce(sum(b.size), 0) FROM project_blobs pb
                                          JOIN blobs b ON b.blob_id = pb.blob_id WHERE pb.project_id = %(project)s),
                          update_time = now()
        WHERE project_id = %(project)s
        RETURNING used_storage
        """,
        {"project": project_id},
    )
    row = cur.fetchone()
    return row[0] if row else 0


# --------------------------------------------------------------------------------------------
# Outbox


def add_event(cur, *, event_type: str, ordering_key: str, payload: dict) -> int:
    """Queue an event in the outbox, in the caller's transaction; the relay publishes it after commit."""
    cur.execute(
        """
        INSERT INTO outbox (event_type, ordering_key, payload) VALUES (%(type)s, %(key)s, %(payload)s)
        RETURNING event_id
        """,
        {"type": event_type, "key": ordering_key, "payload": Json(payload)},
    )
    return cur.fetchone()[0]


# --------------------------------------------------------------------------------------------
# Statistics


@dataclasses.dataclass(frozen=True)
class ContentCounts:
    projects: int
    repositories: int


def count_projects_and_repositories(cur, *, project_ids: Sequence[int] | None = None, public: bool | None = None) -> ContentCounts:
    """Live projects and their repositories, optionally only ``project_ids`` and/or by publicity."""
    parts: list[sql.Composable] = [sql.SQL("NOT p.deleted")]
    params: dict = {}
    if project_ids is not None:
        parts.append(sql.SQL("p.project_id = ANY(%(project_ids)s)"))
        params["project_ids"] = list(project_ids)
    if public is not None:
        parts.append(PUBLIC_SQL if public else sql.SQL("NOT ") + PUBLIC_SQL)
    cur.execute(
        sql.SQL(
            "SELECT count(*), coalesce(sum((SELECT count(*) FROM repositories r WHERE r.project_id = p.project_id)), 0)"
            " FROM projects p WHERE {}"
        ).format(_and(*parts)),
        params,
    )
    projects, repositories = cur.fetchone()
    return ContentCounts(int(projects), int(repositories))


def live_project_ids(cur) -> list[int]:
    cur.execute("SELECT project_id FROM projects WHERE NOT deleted ORDER BY project_id")
    return [row[0] for row in cur.fetchall()]


def total_storage(cur) -> int:
    """Bytes of every blob the registry holds, each counted once."""
    cur.execute("SELECT coalesce(sum(size), 0) FROM blobs")
    return int(cur.fetchone()[0])
